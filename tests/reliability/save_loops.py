"""Save settings or chats in a loop until killed, saying after each save what was saved.

``python save_loops.py settings HOME`` and ``python save_loops.py chats HOME``: the fault
tests kill this process at a random moment and then check that everything it reported
as saved is there and the files are whole.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fakes import final_answer, make_assistant

from desk_assistant.settings import update_settings


def save_settings(home: Path) -> None:
    print("ready", flush=True)
    number = 0
    while True:
        number += 1
        update_settings(home, {"top_k": number % 50 + 1, "temperature": (number % 20) / 10})
        print(f"saved {number}", flush=True)


def save_chats(home: Path) -> None:
    with make_assistant(home, ["An answer that is kept with its question."]) as assistant:
        print("ready", flush=True)
        number = 0
        while True:
            chat = assistant.new_chat()
            for turn in range(3):
                number += 1
                final_answer(
                    assistant.ask(f"Question {number} of chat {chat.id}?", chat_id=chat.id)
                )
                print(f"saved {chat.id} {turn + 1}", flush=True)


if __name__ == "__main__":
    {"settings": save_settings, "chats": save_chats}[sys.argv[1]](Path(sys.argv[2]))
