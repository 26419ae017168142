#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Writes the seed corpus tests/fuzz/corpus/wire/: one valid body (no length prefix) per
# message type, encoded by hand per RFC 8949 §3 with shortest heads and ascending keys.
import os
import sys


def head(major, v):
    if v < 24:
        return bytes([major << 5 | v])
    for ai, n in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if v < 1 << (8 * n):
            return bytes([major << 5 | ai]) + v.to_bytes(n, 'big')
    raise ValueError(v)


def item(v):
    if isinstance(v, int):
        return head(0, v)
    if isinstance(v, bytes):
        return head(2, len(v)) + v
    if isinstance(v, str):
        b = v.encode()
        return head(3, len(b)) + b
    if isinstance(v, list):
        return head(4, len(v)) + b''.join(item(x) for x in v)
    raise TypeError(v)


def msg(fields):
    return head(5, len(fields)) + b''.join(item(k) + item(v) for k, v in sorted(fields.items()))


# Keys: 0 type, 1 version, 2 node_id, 3 methods, 4 nonce, 5 method, 6 proof, 7 key_id,
# 8 expiry, 9 suite, 10 code, 11 reason, 12 key, 13 ae_id, 14 suid (docs/protocol.md).
N = bytes(range(32))
KID = '00112233445566778899aabbccddeeff@mas.example.com'
CORPUS = {
    '1-hello': {0: 1, 1: 1, 2: '/mn-cse-1', 3: [1, 2, 3], 4: N},
    '2-challenge': {0: 2, 1: 1, 4: bytes(range(0xa0, 0xc0)), 5: 1},
    '3-proof': {0: 3, 1: 1, 6: bytes(range(0x40, 0x60))},
    '4-established': {0: 4, 1: 1, 5: 1, 6: bytes(range(0x60, 0x80)), 7: KID,
                      8: 1767225600, 9: 'TLS13-AES128-GCM-SHA256'},
    '5-error': {0: 5, 1: 1, 10: 3, 11: 'node /mn-cse-1 is not registered'},
    '6-key-request': {0: 6, 1: 1, 7: '00112233445566778899aabbccddeeff-Cae1@mas.example.com'},
    '7-key-response': {0: 7, 1: 1, 2: '/mn-cse-1', 8: 1767225600, 12: bytes(32), 13: 'Cae1',
                       14: 32},
    # Version 3, the end-to-end messages (docs/protocol.md §14); 16 is target.
    '8-peer-register': {0: 8, 1: 3, 6: bytes(range(0x41, 0x61)), 13: 'Cae1',
                        16: '/mn-cse-2/Cae2'},
    '9-peer-resolve': {0: 9, 1: 3, 6: bytes(range(0x41, 0x61)), 7: KID},
    '10-peer-key': {0: 10, 1: 3, 2: '/mn-cse-1', 6: bytes(range(0x60, 0x80)), 7: KID,
                    8: 1767225600, 12: bytes(32), 13: 'Cae1', 14: 33, 16: '/mn-cse-2/Cae2'},
    # Version 4: PEER_RESOLVE with check (key 17), the re-validation of §14.6.
    '9-peer-check': {0: 9, 1: 4, 6: bytes(range(0x41, 0x61)), 7: KID, 17: 1},
}

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), 'corpus', 'wire')
os.makedirs(out, exist_ok=True)
for name, fields in CORPUS.items():
    with open(os.path.join(out, name + '.cbor'), 'wb') as f:
        f.write(msg(fields))
