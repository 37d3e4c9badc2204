"""A study respondent reduced to Streamlit's own websocket protocol, for the load benchmark.

The client speaks what the browser speaks (BackMsg / ForwardMsg protobufs on /_stcore/stream): it
opens its `?pid=` link, presses Start on the instructions page, then answers every trial as the
trial component (study_app/trial_view.js) does: it fetches the trial's image (and preloads the next
ones, as the browser does), waits a think time, and sends the component's "answer" trigger with the
trial index, the render and the viewing time, within the trial's fragment. A share of answers are
sent twice back to back, as a double click on plain buttons would (the component itself locks
after the first): the server must store one.
"""
from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

FINISHED_OK = (0, 3)   # ForwardMsg.ScriptFinishedStatus: FINISHED_SUCCESSFULLY, FINISHED_FRAGMENT_RUN_SUCCESSFULLY
TRIGGER_PREFIX = "$$STREAMLIT_INTERNAL_KEY_"   # a component's trigger widget: prefix + id + "__events"


@dataclass
class ClientResult:
    respondent_id: int
    sent: dict[int, str] = field(default_factory=dict)    # trial index -> answer clicked
    latencies_ms: list[float] = field(default_factory=list)
    double_clicks: int = 0
    media_errors: int = 0
    server_errors: list[str] = field(default_factory=list)   # error pages met (then reloaded)
    refused: list[str] = field(default_factory=list)         # answers refused with a reason (pressed again)
    inflight: tuple[int, str] | None = None   # a click sent, its answer page not seen yet
    code: str | None = None
    error: str | None = None


class Page:
    """What one finished script run put on screen."""

    def __init__(self):
        self.buttons: dict[str, str] = {}   # label -> widget id
        self.trial: int | None = None       # the trial component's trial index
        self.trial_data: dict = {}          # the data the component was given
        self.trial_id: str | None = None    # its element id
        self.fragment_id = ""               # the fragment it was drawn in ("" if none)
        self.code: str | None = None
        self.exception: str | None = None   # an error the server showed instead of the page


class Client:
    """One respondent's browser tab, reduced to the protocol."""

    def __init__(self, host: str, port: int, pid: str):
        self.host, self.port, self.pid = host, port, pid
        self.qs, self.page_hash = f"pid={pid}", ""
        self.ws = None

    async def connect(self) -> None:
        self.ws = await websockets.connect(f"ws://{self.host}:{self.port}/_stcore/stream",
                                           subprotocols=["streamlit"], max_size=None,
                                           open_timeout=60, ping_interval=None)

    async def send(self, trigger: str | None = None, answer: dict | None = None,
                   fragment_id: str = "") -> None:
        """A rerun request: plain, a button press (`trigger` widget id), or the trial component's
        answer trigger (`trigger` = the component's id, `answer` its payload)."""
        m = BackMsg()
        m.rerun_script.query_string = self.qs
        m.rerun_script.page_script_hash = self.page_hash
        m.rerun_script.fragment_id = fragment_id
        if trigger and answer is None:
            w = m.rerun_script.widget_states.widgets.add()
            w.id, w.trigger_value = trigger, True
        elif trigger:
            w = m.rerun_script.widget_states.widgets.add()
            w.id = f"{TRIGGER_PREFIX}{trigger}__events"
            w.json_trigger_value = json.dumps([{"event": "answer", "value": answer}])
        await self.ws.send(m.SerializeToString())

    async def until_finished(self, timeout: float) -> Page:
        """Read ForwardMsgs until a script run finishes normally; what it showed."""
        page = Page()
        async with asyncio.timeout(timeout):
            while True:
                f = ForwardMsg()
                f.ParseFromString(await self.ws.recv())
                kind = f.WhichOneof("type")
                if kind == "new_session":
                    self.page_hash, page = f.new_session.page_script_hash, Page()
                elif kind == "page_info_changed":
                    self.qs = f.page_info_changed.query_string
                elif kind == "delta" and f.delta.WhichOneof("type") == "new_element":
                    e = f.delta.new_element
                    t = e.WhichOneof("type")
                    if t == "button":
                        page.buttons[e.button.label] = e.button.id
                    elif t == "bidi_component" and e.bidi_component.component_name == "study_app.trial":
                        page.trial_data = json.loads(e.bidi_component.json)
                        page.trial, page.trial_id = page.trial_data["trial"], e.bidi_component.id
                        page.fragment_id = f.delta.fragment_id
                    elif t == "code":
                        page.code = e.code.code_text
                    elif t == "exception":
                        page.exception = f"{e.exception.type}: {e.exception.message}"[:160]
                    elif t == "alert" and e.alert.format == 1:     # st.error
                        page.exception = f"st.error: {e.alert.body}"[:160]
                elif kind == "script_finished" and f.script_finished in FINISHED_OK:
                    return page

    async def fetch(self, path: str) -> int:
        """GET a URL of the page (as the browser does for an image); returns the HTTP status."""
        path = path if path.startswith("/") else "/" + path
        r, w = await asyncio.open_connection(self.host, self.port)
        w.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                "Connection: close\r\n\r\n".encode())
        await w.drain()
        data = await r.read()
        w.close()
        return int(data.split(b" ", 2)[1])

    async def image(self, url: str, cached: set[str], res: ClientResult) -> None:
        """Fetch an image unless this client's "browser cache" has it; a failure is counted."""
        if url in cached:
            return
        if await self.fetch(url) == 200:
            cached.add(url)
        else:
            res.media_errors += 1

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


async def respondent(res: ClientResult, host: str, port: int, pid: str, rng: random.Random,
                     think: float, jitter: float, double_click: float, start_delay: float,
                     timeout: float) -> ClientResult:
    """One respondent from opening the link to the completion code, recorded into `res` as it
    goes (so a respondent stopped by the level's time limit still counts what it sent)."""
    c = Client(host, port, pid)
    try:
        await asyncio.sleep(start_delay)
        await c.connect()
        await c.send()
        page = await c.until_finished(timeout)
        if "Start" not in page.buttons:
            raise RuntimeError(f"expected the instructions page, got buttons {list(page.buttons)}")
        await c.send(page.buttons["Start"])
        page = await c.until_finished(timeout)
        cached: set[str] = set()       # image URLs this "browser" has fetched (its cache)
        while page.trial is not None:
            i = page.trial
            await c.image(page.trial_data["src"], cached, res)          # (already cached: free)
            t_shown = time.perf_counter()
            await asyncio.gather(asyncio.sleep(rng.uniform(think - jitter, think + jitter)),
                                 *(c.image(u, cached, res) for u in page.trial_data["preload"]))
            answer = rng.choice(["real", "generated"])
            payload = {"trial": i, "answer": answer, "render": page.trial_data["render"],
                       "viewed_ms": round((time.perf_counter() - t_shown) * 1000)}
            t0 = time.perf_counter()
            await c.send(page.trial_id, payload, page.fragment_id)
            if rng.random() < double_click:
                await c.send(page.trial_id, payload, page.fragment_id)
                res.double_clicks += 1
            res.inflight = (i, answer)
            while True:    # a repeated answer may show the same trial once more before moving on
                page = await c.until_finished(timeout)
                if page.trial is None or page.trial > i:
                    break
                if page.trial == i and page.trial_data["notice"]:
                    # Refused with a reason (the database was busy): press again, as a person would.
                    res.refused.append(page.trial_data["notice"][:60])
                    await asyncio.sleep(0.3)
                    payload = {**payload, "render": page.trial_data["render"],
                               "viewed_ms": round((time.perf_counter() - t_shown) * 1000)}
                    await c.send(page.trial_id, payload, page.fragment_id)
            res.sent[i], res.inflight = answer, None
            if page.trial is not None:
                await c.image(page.trial_data["src"], cached, res)      # on screen once fetched
            res.latencies_ms.append((time.perf_counter() - t0) * 1000)
            if page.trial is None and page.code is None and page.exception is not None:
                # The server showed an error instead of the next page: do what a person does,
                # reload the link (a new session), which resumes at the next unanswered trial.
                res.server_errors.append(page.exception)
                if len(res.server_errors) > 3:
                    break
                await c.close()
                c = Client(host, port, pid)
                await c.connect()
                await c.send()
                page = await c.until_finished(timeout)
                if "Start" in page.buttons:      # nothing answered yet: instructions again
                    await c.send(page.buttons["Start"])
                    page = await c.until_finished(timeout)
        res.code = page.code
        if res.code is None:
            raise RuntimeError(f"page without a trial or a completion code after trial "
                               f"{max(res.sent, default=None)}: {page.exception or 'no error shown'}")
    except Exception as e:   # noqa: BLE001 - every failure is counted and reported, never hidden
        res.error = f"{type(e).__name__}: {e}"[:200]
    finally:
        try:
            await c.close()
        except Exception:   # noqa: BLE001
            pass
    return res


async def warm_up(ports: list[int], pid: str) -> None:
    """One session per server so first-run imports are not counted as respondents' latency."""
    for port in ports:
        c = Client("127.0.0.1", port, pid)
        await c.connect()
        await c.send()
        await c.until_finished(120)
        await c.close()
