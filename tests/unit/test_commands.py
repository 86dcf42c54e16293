from bot.commands import Command, parse_commands


def test_commands_are_lines_starting_with_the_prefix() -> None:
    body = "LGTM!\n/s2i ok-to-test\n  /s2i rebuild web\n/s2i   cancel\n/s2icancel\n/s2i\n"
    assert parse_commands(body) == [
        Command("ok-to-test"),
        Command("rebuild", "web"),
        Command("cancel"),
        Command("help"),
    ]


def test_quoted_and_fenced_commands_do_not_run() -> None:
    body = "> /s2i rebuild\n```\n/s2i cancel\n```\nSee `/s2i help` inline\n"
    assert parse_commands(body) == []


def test_unknown_commands_are_kept_so_the_bot_can_answer_with_help() -> None:
    (command,) = parse_commands("/s2i deploy prod")
    assert command == Command("deploy", "prod") and not command.known
