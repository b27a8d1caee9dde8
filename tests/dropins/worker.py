"""One process of the headline harness, for a Python contender: ``worker.py MODULE COUNT``.

Imports MODULE (``portpicker`` or ``portpool.portpicker``), prints ``ready``, waits for a line
on stdin, asks for COUNT ports with ``pick_unused_port()`` without binding any, prints them as
a JSON list, then stays alive (holding whatever the library holds for it) until stdin closes.
"""

import importlib
import json
import sys


def main() -> None:
    module = importlib.import_module(sys.argv[1])
    count = int(sys.argv[2])
    print("ready", flush=True)
    sys.stdin.readline()
    ports = [module.pick_unused_port() for _ in range(count)]
    print(json.dumps(ports), flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
