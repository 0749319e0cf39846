#!/usr/bin/env python3
"""troupe's Python bootcamp worker: hosts one InternBootcamp-style class for envs/python_task.cpp.

troupe starts this script as a child process (python3 bootcamp_worker.py) and talks to it
over its stdin and stdout. Every message either way is a frame: a 4-byte big-endian length,
then that many bytes of UTF-8 JSON. The first request names the class; each later one asks
for one case or one score, and gets exactly one reply:

  {"op": "init", "module": "pkg.mod", "class": "Name"}   -> {"ok": true}
  {"op": "ping"}                                           -> {"ok": true}
  {"op": "generate", "seed": 123}                          -> {"ok": true, "identity": {...}, "prompt": "..."}
  {"op": "verify", "identity": {...}, "response": "...",
   "format_score": 0.0, "short_penalty": true, "short_threshold": 100, "format_penalty": true}
                                                           -> {"ok": true, "score": 1.0, "extracted": true,
                                                               "extracted_answer": "..."}
  any failure                                              -> {"ok": false, "error": "what went wrong"}

The class needs case_generator(), prompt_func(identity) and verify_score(response, identity,
...); extract_output(response), when it has one, tells whether an answer was found. Before
generate the worker seeds Python's random (and numpy's, when the class's module uses it), so
one seed gives one case. The class's own prints go to stderr: stdout carries only frames.
troupe enforces the time limit per call and the memory cap (it kills and restarts this
process); the worker itself never exits on a bad request, only when stdin closes.
"""
import importlib
import json
import random
import struct
import sys
import traceback

MAX_FRAME = 256 << 20  # troupe never sends more; a larger length means a broken stream


def read_exact(stream, n):
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def send(out, obj):
    body = json.dumps(obj, ensure_ascii=False, default=repr).encode("utf-8", "surrogatepass")
    out.write(struct.pack(">I", len(body)) + body)
    out.flush()


def first_line(e):
    return f"{type(e).__name__}: {e}".splitlines()[0][:500]


class Host:
    def __init__(self):
        self.cls = None
        self.obj = None
        self.module = None

    def init(self, req):
        self.module = importlib.import_module(req["module"])
        self.cls = getattr(self.module, req["class"])
        self.obj = self.cls()
        for needed in ("case_generator", "prompt_func", "verify_score"):
            if not hasattr(self.obj, needed):
                raise TypeError(f"{req['module']}.{req['class']} has no {needed}()")
        return {"ok": True}

    def generate(self, req):
        seed = int(req["seed"])
        random.seed(seed)
        np = sys.modules.get("numpy")
        if np is not None:
            np.random.seed(seed % (1 << 32))
        identity = self.obj.case_generator()
        prompt = self.obj.prompt_func(identity)
        # What troupe stores is the JSON text; a round trip here makes every later verify see the same.
        identity = json.loads(json.dumps(identity, default=repr))
        return {"ok": True, "identity": identity, "prompt": str(prompt)}

    def verify(self, req):
        response, identity = req["response"], req["identity"]
        extracted, extracted_answer = False, ""
        extract = getattr(self.cls, "extract_output", None)
        if extract is not None:
            try:
                got = extract(response)
                extracted = got is not None
                extracted_answer = "" if got is None else str(got)[:256]
            except Exception:
                extracted = False
        options = {k: req[k] for k in ("format_score", "short_penalty", "short_threshold", "format_penalty") if k in req}
        try:
            score = self.cls.verify_score(response, identity, **options)
        except TypeError:
            # An older verify_score without the gate options.
            score = self.cls.verify_score(response, identity, format_score=options.get("format_score", 0.0))
        return {"ok": True, "score": float(score), "extracted": extracted, "extracted_answer": extracted_answer}


def main():
    inp = sys.stdin.buffer
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # a class that prints must not corrupt the frames
    host = Host()
    while True:
        head = read_exact(inp, 4)
        if head is None:
            return 0
        (n,) = struct.unpack(">I", head)
        if n > MAX_FRAME:
            send(out, {"ok": False, "error": f"frame of {n} bytes exceeds {MAX_FRAME}"})
            return 1
        body = read_exact(inp, n)
        if body is None:
            return 0
        try:
            req = json.loads(body.decode("utf-8", "surrogatepass"))
            op = req.get("op")
            if op != "init" and host.cls is None:
                raise RuntimeError("the first request must be init")
            handler = {"init": host.init, "ping": lambda req: {"ok": True}, "generate": host.generate,
                       "verify": host.verify}.get(op)
            if handler is None:
                raise ValueError(f"unknown op {op!r}")
            reply = handler(req)
        except MemoryError:
            reply = {"ok": False, "error": "MemoryError: the class exceeded the worker's memory cap"}
        except Exception as e:
            traceback.print_exc(file=sys.stderr)
            reply = {"ok": False, "error": first_line(e)}
        send(out, reply)


if __name__ == "__main__":
    sys.exit(main())
