module example.com/hello-private

go 1.19

require example.com/private/greeting v1.0.0
