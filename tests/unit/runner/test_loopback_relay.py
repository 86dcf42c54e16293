"""Loopback relays (bot/runner/loopback_relay.py) over real sockets on this machine."""

from __future__ import annotations

import socket
import threading

import pytest

from bot.runner.loopback_relay import parse, relays
from tests.support.bot_process import free_port


def test_a_connection_to_the_listen_address_reaches_the_target_both_ways() -> None:
    with socket.create_server(("127.0.0.1", 0)) as target:
        target_port = target.getsockname()[1]

        def echo_once() -> None:
            conn, _ = target.accept()
            with conn:
                while data := conn.recv(1024):
                    conn.sendall(data.upper())

        threading.Thread(target=echo_once, daemon=True).start()
        listen = free_port()
        with (
            relays([f"127.0.0.1:{listen}=127.0.0.1:{target_port}"]),
            socket.create_connection(("127.0.0.1", listen), timeout=5) as client,
        ):
            client.sendall(b"hello")
            client.shutdown(socket.SHUT_WR)
            answer = b""
            while data := client.recv(1024):
                answer += data
    assert answer == b"HELLO"


@pytest.mark.parametrize("text", ["127.0.0.1:5000", "127.0.0.1:5000=10.0.0.1", "x=y:1", ":1=a:2"])
def test_a_relay_that_is_not_two_host_port_pairs_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not"):
        parse(text)


def test_a_relay_names_where_it_listens_and_where_it_copies_to() -> None:
    assert parse("127.0.0.1:5000=10.244.0.1:40123") == (("127.0.0.1", 5000), ("10.244.0.1", 40123))


def test_a_relay_bound_by_another_step_is_taken_over_once_that_step_has_closed_it() -> None:
    # prepare and the export of one pod share its loopback: the export binds the relays
    # prepare has just closed (bot/runner/handover.py), however long the kernel takes.
    spec = f"127.0.0.1:{free_port()}=127.0.0.1:{free_port()}"
    with relays([spec]), pytest.raises(OSError), relays([spec]):
        pass  # in use, and no wait asked
    taken = threading.Event()
    release = threading.Event()

    def first() -> None:
        with relays([spec]):
            taken.set()
            release.wait(10)

    holder = threading.Thread(target=first, daemon=True)
    holder.start()
    assert taken.wait(10)
    timer = threading.Timer(0.2, release.set)
    timer.start()
    with relays([spec], wait_seconds=10):
        assert release.is_set()  # bound only once the first had closed it
    holder.join(10)
