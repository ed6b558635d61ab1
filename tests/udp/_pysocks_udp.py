"""PySocks (Debian python3-socks) as a third-party SOCKS5 UDP client, for tests/udp.

usage: /usr/bin/python3 _pysocks_udp.py PROXY_HOST PROXY_PORT TARGET_HOST TARGET_PORT SIZE...

Sends one datagram of each SIZE (a pattern keyed by its size) through the proxy's UDP
ASSOCIATE to the target (an echo server) and prints one JSON object: for each size, whether
the echo came back byte-exact.
"""
import json
import socket
import sys

import socks

proxy_host, proxy_port, host, port = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
sizes = [int(size) for size in sys.argv[5:]]

s = socks.socksocket(socket.AF_INET, socket.SOCK_DGRAM)
s.set_proxy(socks.SOCKS5, proxy_host, proxy_port, rdns=True)
s.settimeout(3)
results = {}
for size in sizes:
    payload = bytes((i * 7 + size) & 0xFF for i in range(size))
    ok = False
    for _attempt in range(3):  # UDP: a lost datagram is retried, a wrong one is not
        s.sendto(payload, (host, port))
        try:
            data, _source = s.recvfrom(65535)
        except socket.timeout:
            continue
        ok = data == payload
        break
    results[str(size)] = ok
print(json.dumps(results))
s.close()
