from bot.runner.engine import StageImages

# docker 20.10's classic builder, an incremental build with a runtime stage (abridged).
OUTPUT = """\
Step 1/15 : FROM 127.0.0.1:5000/bench/go:local-s2i-cache as cached
local-s2i-cache: Pulling from bench/go
 ---> 97d47ad58b0b
Step 2/15 : USER 1001
 ---> Running in 4e5afb0d4103
Removing intermediate container 4e5afb0d4103
 ---> a68d87b03732
Step 4/15 : FROM 127.0.0.1:5000/s2i-bot/go:latest AS s2i-build
 ---> a84d721812e9
Step 9/15 : RUN /usr/libexec/s2i/assemble
 ---> Running in e0c303b24ad0
---> Built /opt/app-root/app (4.3M)
 ---> 1e9702e8bfab
Step 10/15 : CMD /usr/libexec/s2i/run
 ---> Using cache
 ---> f50e637fe4be
Step 11/15 : FROM 127.0.0.1:5000/s2i-bot/go-runtime:latest
 ---> be3cd1fb4c68
Step 15/15 : CMD ["/usr/libexec/s2i/run"]
 ---> cebf4d1e00a3
Successfully built cebf4d1e00a3
"""


def test_each_named_stage_ends_with_the_image_of_its_last_step() -> None:
    stages = StageImages()
    for line in OUTPUT.splitlines():
        stages.feed(line)
    assert stages.ids == {"cached": "a68d87b03732", "s2i-build": "f50e637fe4be"}
