"""The grader reads everything a kernel sends as untrusted input (issue 13, part 1).

`Kernel._collect` is driven here by a fake client that replays what a hostile or broken kernel
could send: messages that are not dicts, fields of the wrong type, replies to other requests,
floods of output, forged answers, exceptions raised by jupyter_client while it deserialises,
and a kernel that never says "idle". Hypothesis generates such streams. Whatever comes, the
grader must return an `Execution` (never raise), keep at most `MAX_TEXT` characters of text and
one answer, and give up by the deadline; a kernel that keeps sending unreadable messages is
ended. A real hostile notebook (its kernel's serialiser replaced) is graded end to end in
tests/test_grading_untrusted.py.
"""

import queue
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edu_gen.grading import kernel as kernel_module
from edu_gen.grading.kernel import MAX_MALFORMED, MAX_TEXT, Kernel
from edu_gen.grading.wire import MIME

REQUEST = "request-1"


class FakeProcess:
    def __init__(self):
        self.killed = False

    def poll(self):
        return -9 if self.killed else None

    def kill(self):
        self.killed = True

    def wait(self):
        return -9


class FakeClient:
    """Replays a list of items: a dict (a message), an exception (raised), or "empty"."""

    def __init__(self, items, forever=None):
        self.items, self.forever = list(items), forever

    def get_iopub_msg(self, timeout):
        if self.items:
            item = self.items.pop(0)
        elif self.forever is not None:
            item = self.forever
        else:
            raise queue.Empty
        if isinstance(item, BaseException):
            raise item
        if item == "empty":
            raise queue.Empty
        return item


def _kernel(items, forever=None) -> Kernel:
    k = Kernel.__new__(Kernel)
    k.process, k.client, k.killed_because = FakeProcess(), FakeClient(items, forever), None
    return k


def message(kind, content, parent=REQUEST):
    return {"msg_type": kind, "parent_header": {"msg_id": parent}, "content": content, "header": {}}


IDLE = message("status", {"execution_state": "idle"})
ANSWER = message("display_data", {"data": {MIME: '{"ok": 1}'}, "metadata": {}})

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
hostile_items = st.one_of(
    json_values,  # not a message at all
    st.builds(message, st.sampled_from(["stream", "error", "display_data", "execute_result", "status", "x"]),
              json_values, st.sampled_from([REQUEST, "another-request"])),
    st.builds(lambda c: {"msg_type": c, "parent_header": c, "content": c}, json_values),
    st.sampled_from([TypeError("list indices must be integers"), KeyError("header"), ValueError("bad"),
                     UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid")]),
    st.just("empty"),
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # examples: the profile (conftest.py)
@given(st.lists(hostile_items, max_size=40), st.booleans())
def test_any_stream_of_messages_gives_an_execution_by_the_deadline(items, ends_idle):
    k = _kernel(items + ([IDLE] if ends_idle else []))
    began = time.monotonic()
    outcome = k._collect(REQUEST, deadline=began + 0.1)
    assert time.monotonic() - began < 2.0
    assert outcome.status in ("ok", "error", "timeout", "died")
    assert len(outcome.text) <= MAX_TEXT and len(outcome.results) <= 1
    assert isinstance(outcome.error_name, str) and isinstance(outcome.traceback, str)


def test_a_kernel_whose_messages_cannot_be_read_is_ended():
    k = _kernel([], forever=TypeError("list indices must be integers or slices, not str"))
    outcome = k._collect(REQUEST, deadline=time.monotonic() + 30)
    assert outcome.status == "died" and k.process.killed
    assert "could not read" in k.exit_reason()
    # a few unreadable messages among good ones are tolerated
    k = _kernel([TypeError("x")] * MAX_MALFORMED + [ANSWER, IDLE])
    outcome = k._collect(REQUEST, deadline=time.monotonic() + 30)
    assert outcome.status == "ok" and outcome.results == ['{"ok": 1}'] and not k.process.killed


def test_a_flood_of_output_is_capped_and_ends_at_the_deadline():
    k = _kernel([], forever=message("stream", {"name": "stdout", "text": "x" * 100_000}))
    began = time.monotonic()
    outcome = k._collect(REQUEST, deadline=began + 0.5)
    assert outcome.status == "timeout" and len(outcome.text) == MAX_TEXT
    assert time.monotonic() - began < 2.0


def test_forged_answers_for_other_requests_are_ignored_and_only_the_last_answer_is_kept():
    forged = message("display_data", {"data": {MIME: '{"ok": 999}'}}, parent="another-request")
    first = message("display_data", {"data": {MIME: '{"ok": 0}'}})
    k = _kernel([forged, first, forged, ANSWER, forged, IDLE])
    outcome = k._collect(REQUEST, deadline=time.monotonic() + 30)
    assert outcome.results == ['{"ok": 1}']


def test_fields_of_the_wrong_type_are_read_as_empty():
    error = message("error", {"ename": ["E"], "evalue": {"v": 1}, "traceback": "not a list"})
    k = _kernel([error, message("stream", {"text": 12}), IDLE])
    outcome = k._collect(REQUEST, deadline=time.monotonic() + 30)
    assert (outcome.status, outcome.error_name, outcome.error_value, outcome.traceback, outcome.text) == ("error", "", "", "", "")


def test_every_socket_refuses_messages_larger_than_the_cap():
    import zmq

    assert 1 << 20 <= kernel_module.MAX_MESSAGE <= 1 << 30
    context = zmq.Context()
    context.setsockopt(zmq.MAXMSGSIZE, kernel_module.MAX_MESSAGE)
    try:
        assert context.socket(zmq.SUB).getsockopt(zmq.MAXMSGSIZE) == kernel_module.MAX_MESSAGE
    finally:
        context.destroy()
