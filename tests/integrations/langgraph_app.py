"""The graphs the LangGraph tests run, in the test's process or in another
one: `python langgraph_app.py KIND DB THREAD TEXT...` runs one turn per TEXT
on a thread of the database DB (a SQLite path or a PostgreSQL URL) and
prints the thread's messages as JSON lines ([type, content]). With
$LANGGRAPH_APP_GO set, the turns start once that file exists (several
processes then write at once).

KIND is "graph" (a `StateGraph(MessagesState)` whose node asks a fake chat
model) or "agent" (`create_agent` with a fake chat model that calls a tool
once, then answers)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel  # noqa: E402
from langchain_core.messages import AIMessage, HumanMessage  # noqa: E402
from langchain_core.tools import tool  # noqa: E402


class FakeToolModel(GenericFakeChatModel):
    """langchain_core's fake chat model, which `create_agent` can bind tools to."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> FakeToolModel:
        return self


@tool
def lookup(order: str) -> str:
    """Look an order up."""
    return f"order {order}: refund issued"


def replies(texts: list[str]) -> Any:
    """What the fake model answers, one turn per text."""
    return iter([AIMessage(f"reply to {t}") for t in texts])


def graph(checkpointer: Any, texts: list[str]) -> Any:
    from langgraph.graph import START, MessagesState, StateGraph

    model = GenericFakeChatModel(messages=replies(texts))

    def agent(state: MessagesState) -> dict:
        return {"messages": [model.invoke(state["messages"])]}

    g = StateGraph(MessagesState)
    g.add_node("agent", agent)
    g.add_edge(START, "agent")
    return g.compile(checkpointer=checkpointer)


def agent(checkpointer: Any, texts: list[str]) -> Any:
    from langchain.agents import create_agent

    answers: list[AIMessage] = []
    for i, t in enumerate(texts):
        if "refund" in t:
            answers.append(AIMessage("", tool_calls=[{"name": "lookup", "args": {"order": "1142"},
                                                      "id": f"call-{i}"}]))
        answers.append(AIMessage(f"reply to {t}"))
    return create_agent(FakeToolModel(messages=iter(answers)), tools=[lookup],
                        checkpointer=checkpointer)


def run(kind: str, checkpointer: Any, thread: str, texts: list[str],
        ready: Any = None) -> list[Any]:
    """Run one turn per text (after `ready()`, once the graph is built); the
    thread's messages after the last."""
    app = (graph if kind == "graph" else agent)(checkpointer, texts)
    config = {"configurable": {"thread_id": thread}}
    app.get_state(config)  # the first read's imports and set-up, before the turns
    if ready is not None:
        ready()
    out: dict[str, Any] = {"messages": []}
    for t in texts:
        out = app.invoke({"messages": [HumanMessage(t)]}, config)
    return out["messages"]


def main() -> None:
    from sessionlog.integrations.langgraph import EventSourcedCheckpointSaver

    kind, db, thread, *texts = sys.argv[1:]
    go = os.environ.get("LANGGRAPH_APP_GO")  # start the turns together with other processes
    def ready() -> None:
        while go and not os.path.exists(go):
            time.sleep(0.01)

    with EventSourcedCheckpointSaver(db) as saver:
        for m in run(kind, saver, thread, texts, ready):
            print(json.dumps([m.type, m.content]))


if __name__ == "__main__":
    main()
