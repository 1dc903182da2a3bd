"""HTTP probes: GET a URL from a host (or namespace) with the host's own python3, and read
the status and body it printed.

No proxy is used (a host's environment cannot send the request elsewhere), redirects are
not followed (a lesson checks the status the server gave), and the body is cut at
MAX_BODY bytes. The first line of output is ``@@http STATUS`` (or ``@@http error WHY``
when no answer came); the body follows.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

MAX_BODY = 64 * 1024
GET = r'''
import socket, sys, urllib.error, urllib.request
url, deadline, limit = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
class Stay(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), Stay)
try:
    answer = opener.open(url, timeout=deadline)
except urllib.error.HTTPError as exc:
    answer = exc
except urllib.error.URLError as exc:
    why = exc.reason.strerror if isinstance(exc.reason, OSError) and exc.reason.strerror else str(exc.reason)
    print("@@http error", why)
    sys.exit(1)
except (socket.timeout, TimeoutError):
    print("@@http error timed out")
    sys.exit(1)
except Exception as exc:
    print("@@http error", exc)
    sys.exit(1)
print("@@http", answer.status if hasattr(answer, "status") else answer.code)
sys.stdout.flush()
sys.stdout.buffer.write(answer.read(limit))
'''
STATUS = re.compile(r"^@@http (\d{3}|error (.*))$", re.MULTILINE)


@dataclass(frozen=True)
class HttpAnswer:
    status: int  # 0: no answer
    error: str = ""  # why there was no answer: "Connection refused", "timed out", ...
    body: str = ""

    def __str__(self) -> str:
        return f"status {self.status}" if self.status else f"no answer: {self.error or 'error'}"


def http_command(url: str, deadline: float) -> str:
    return " ".join(shlex.quote(a) for a in ["python3", "-c", GET, url, f"{deadline:g}", str(MAX_BODY)])


def classify_http(output: str) -> HttpAnswer:
    found = STATUS.search(output)
    if found is None:
        return HttpAnswer(0, "the probe printed no status")
    if found.group(2) is not None:
        return HttpAnswer(0, found.group(2).strip())
    return HttpAnswer(int(found.group(1)), body=output[found.end():].lstrip("\n"))
