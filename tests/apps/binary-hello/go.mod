module example.com/binary-hello

go 1.19
