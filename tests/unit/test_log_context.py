"""bot/log_context.py: JSON log lines carry the delivery and build ids of the context they
are logged in, and only there."""

from __future__ import annotations

import asyncio
import contextvars
import io
import json
import logging

from bot import log_context


def logged(log_format: log_context.LogFormat, run: object) -> list[str]:
    stream = io.StringIO()
    logger = logging.getLogger(f"test.log_context.{log_format}")
    logger.propagate = False
    handler = log_context.handler(log_format, stream)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        assert callable(run)
        run(logger)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue().splitlines()


def test_json_lines_carry_the_ids_of_their_context_and_only_theirs() -> None:
    def run(logger: logging.Logger) -> None:
        def in_build() -> None:
            log_context.delivery_id.set("d-1")
            log_context.build_id.set(7)
            logger.info("building %s", "web")
            try:
                raise ValueError("boom")
            except ValueError:
                logger.exception("failed")

        contextvars.copy_context().run(in_build)
        logger.warning("outside")

    lines = [json.loads(line) for line in logged("json", run)]
    assert [(line["message"], line.get("delivery_id"), line.get("build_id")) for line in lines] == [
        ("building web", "d-1", 7), ("failed", "d-1", 7), ("outside", None, None),
    ]  # fmt: skip
    assert lines[0]["level"] == "INFO" and lines[0]["time"].endswith("+00:00")
    assert "ValueError: boom" in lines[1]["exception"]


def test_tasks_and_threads_inherit_the_delivery_id_set_where_the_work_starts() -> None:
    async def main(logger: logging.Logger) -> None:
        async def process() -> None:
            log_context.delivery_id.set("d-2")
            await asyncio.to_thread(logger.info, "in a thread")

        await asyncio.create_task(process())
        logger.info("after")

    lines = [json.loads(line) for line in logged("json", lambda lg: asyncio.run(main(lg)))]
    assert [line.get("delivery_id") for line in lines] == ["d-2", None]


def test_text_lines_stay_lines_for_a_person() -> None:
    (line,) = logged("text", lambda lg: lg.info("hello"))
    assert line.endswith("INFO test.log_context.text: hello")
