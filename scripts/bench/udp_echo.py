"""The UDP benchmark's far end, in its own process: a loopback UDP echo that drops nothing.

Not a Deno script (as sink.ts is for TCP), because Deno cannot set SO_RCVBUF: with Deno's
default 208 KiB receive buffer (about 90 datagrams of 1400 bytes) the echo itself overflowed
when eight associations had 64 datagrams each in flight, and capped every contender (trojan
included) at about 8,000 datagrams/s with 1 to 2 % lost at the echo. This socket asks for
4 MiB (within net.core.rmem_max; nothing system-wide is changed) and does nothing else.

Usage: python3 scripts/bench/udp_echo.py   # prints "udp echo on PORT"
"""

import socket

echo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
echo.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
echo.bind(("127.0.0.1", 0))
print(f"udp echo on {echo.getsockname()[1]}", flush=True)
buffer = bytearray(65536)
view = memoryview(buffer)
while True:
    size, source = echo.recvfrom_into(buffer)
    echo.sendto(view[:size], source)
