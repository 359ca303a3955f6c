"""The LangGraph rows of scripts/bench.py (issue 21): a `StateGraph(MessagesState)`
thread of N turns (a 1 KB user message, a 1 KB reply: three checkpoints a
turn) checkpointed by `EventSourcedCheckpointSaver` and by LangGraph's
`SqliteSaver` (langgraph-checkpoint-sqlite, its defaults) in the same run:
the file's size, the mean time of a turn early and late in the thread, and
the whole run's time.

    python scripts/bench_langgraph.py 200     # the rows alone, printed
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KB = ("The refund for order 1142 was issued; it reaches your card within five business "
      "days. ") * 12  # ~1 KB

SIZES = {"full": (200, 1000), "quick": (60,)}


def _graph(checkpointer: Any) -> Any:
    from langchain_core.messages import AIMessage
    from langgraph.graph import START, MessagesState, StateGraph

    def agent(state: MessagesState) -> dict:
        n = len(state["messages"])
        return {"messages": [AIMessage(f"{n}: {KB}", id=f"reply-{n}")]}

    g = StateGraph(MessagesState)
    g.add_node("agent", agent)
    g.add_edge(START, "agent")
    return g.compile(checkpointer=checkpointer)


def run_turns(checkpointer: Any, turns: int) -> list[float]:
    """Seconds of each turn of one thread."""
    from langchain_core.messages import HumanMessage

    app = _graph(checkpointer)
    config = {"configurable": {"thread_id": "bench"}}
    times = []
    for i in range(turns):
        t = time.perf_counter()
        out = app.invoke({"messages": [HumanMessage(f"{i}: {KB}")]}, config)
        times.append(time.perf_counter() - t)
    assert len(out["messages"]) == 2 * turns, len(out["messages"])
    return times


def ours(path: str, turns: int) -> list[float]:
    from sessionlog.integrations.langgraph import EventSourcedCheckpointSaver

    with EventSourcedCheckpointSaver(path) as saver:
        return run_turns(saver, turns)


def sqlite_saver(path: str, turns: int) -> list[float]:
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(path, check_same_thread=False)
    try:
        return run_turns(SqliteSaver(conn), turns)
    finally:
        conn.close()


def file_mb(path: str) -> float:
    """The database's size with its WAL checkpointed into it."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p)) / 1e6


def measure(workdir: Path, turns: int) -> dict[str, dict[str, float]]:
    """Size, early and late mean turn time and total time of both savers."""
    from langgraph.checkpoint.memory import InMemorySaver

    run_turns(InMemorySaver(), 2)  # LangGraph's imports and first compile, timed for neither
    out = {}
    runs: dict[str, Callable[[str, int], list[float]]] = {"ours": ours, "sqlite": sqlite_saver}
    for name, fn in runs.items():
        path = str(workdir / f"langgraph-{name}-{turns}.db")
        times = fn(path, turns)
        k = max(1, turns // 10)
        out[name] = {"mb": file_mb(path), "early": statistics.mean(times[:k]) * 1000,
                     "late": statistics.mean(times[-k:]) * 1000, "total": sum(times)}
    return out


def langgraph_rows(bench: Any, mode: str) -> None:
    """Rows of section "langgraph", SqliteSaver's figures as the floor."""
    print("langgraph, one thread of 1 KB messages, SqliteSaver in the same run", flush=True)
    for turns in SIZES[mode]:
        m = measure(Path(bench.dir), turns)
        o, s = m["ours"], m["sqlite"]
        k = max(1, turns // 10)
        early, late = f"turns 1-{k}", f"turns {turns - k + 1}-{turns}"
        bench.row("langgraph", f"{turns} turns: file size", o["mb"], "MB", s["mb"],
                  f"SqliteSaver {s['mb']:,.2f} MB; target 50x smaller at 200 turns")
        bench.row("langgraph", f"{turns} turns: total time", o["total"], "s", s["total"],
                  f"SqliteSaver {s['total']:,.2f} s; target no slower")
        bench.row("langgraph", f"{turns} turns: mean turn, {early}", o["early"], "ms",
                  s["early"], f"SqliteSaver {s['early']:,.2f} ms")
        bench.row("langgraph", f"{turns} turns: mean turn, {late}", o["late"], "ms",
                  s["late"], f"SqliteSaver {s['late']:,.2f} ms")
        bench.row("langgraph", f"{turns} turns: late turn / early turn", o["late"] / o["early"],
                  "x", None, f"SqliteSaver {s['late'] / s['early']:,.2f}x; target at most 2x")


class _Printer:
    def __init__(self, workdir: Path) -> None:
        self.dir = workdir

    def row(self, section: str, what: str, value: float, unit: str, floor: float | None,
            note: str = "") -> None:
        ratio = f"{floor / value:5.2f}x" if floor else "      "
        print(f"  {what:<44} {value:>12,.2f} {unit:<3} {ratio}  {note}", flush=True)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="sessionlog-bench-") as tmp:
        SIZES["cli"] = tuple(int(a) for a in sys.argv[1:]) or (200,)
        langgraph_rows(_Printer(Path(tmp)), "cli")
