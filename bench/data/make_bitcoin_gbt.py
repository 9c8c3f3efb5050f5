#!/usr/bin/env python3
"""Writes bitcoin_gbt_mainnet_like.json: a hand-built, mainnet-like getblocktemplate answer that
bench/fake_bitcoind serves to the Stratum load benchmark (and only to it).

No bitcoind runs on this machine, so nothing here is a recording of a live mainnet template; it
is shaped like one from Bitcoin Core 26 near height 850,000 (June 2024): version 0x20000000,
bits 0x17034219 (so no share at any realistic Stratum difficulty is a block), a 3.125 BTC
subsidy, and 48 well-formed segwit (P2WPKH) transactions whose txid, hash (wtxid), weight and
the default_witness_commitment are computed from their bytes. Their inputs spend made-up
outpoints with made-up signatures: the block would never be valid, and submitblock is never
reached by the benchmark. Deterministic (fixed seed): rerunning gives the same file.
"""
import hashlib, json, os, random, struct

rng = random.Random(850000)

def sha256d(b): return hashlib.sha256(hashlib.sha256(b).digest()).digest()
def varint(n):
    if n < 0xfd: return bytes([n])
    if n <= 0xffff: return b'\xfd' + struct.pack('<H', n)
    return b'\xfe' + struct.pack('<I', n)
def rbytes(n): return bytes(rng.getrandbits(8) for _ in range(n))

def der_sig():
    # A DER-shaped ECDSA signature (r, s as 32-byte positive integers) + SIGHASH_ALL.
    def num():
        v = rbytes(32)
        v = bytes([v[0] & 0x7f | 0x01]) + v[1:]
        return b'\x02' + bytes([len(v)]) + v
    body = num() + num()
    return b'\x30' + bytes([len(body)]) + body + b'\x01'

def p2wpkh_tx():
    version = struct.pack('<i', 2)
    n_in = rng.choice([1, 1, 1, 2])
    ins = b''.join(rbytes(32) + struct.pack('<I', rng.randrange(4)) + b'\x00' + struct.pack('<I', 0xfffffffd)
                   for _ in range(n_in))
    outs = []
    for _ in range(2):
        outs.append(struct.pack('<q', rng.randrange(10_000, 50_000_000)) + b'\x16\x00\x14' + rbytes(20))
    base_body = varint(n_in) + ins + varint(len(outs)) + b''.join(outs)
    locktime = struct.pack('<I', 849999)
    witness = b''.join(b'\x02' + bytes([len(s)]) + s + b'\x21' + bytes([rng.choice([2, 3])]) + rbytes(32)
                       for s in [der_sig() for _ in range(n_in)])
    base = version + base_body + locktime
    full = version + b'\x00\x01' + base_body + witness + locktime
    return base, full

def merkle_root(hashes):
    level = list(hashes)
    while len(level) > 1:
        if len(level) % 2: level.append(level[-1])
        level = [sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]

txs, wtxids = [], [b'\x00' * 32]  # the coinbase's wtxid is zero in the witness tree
fees = 0
for _ in range(48):
    base, full = p2wpkh_tx()
    txid, wtxid = sha256d(base), sha256d(full)
    weight = len(base) * 3 + len(full)
    fee = weight // 4 * rng.randrange(8, 40)  # 8..40 sat/vB
    fees += fee
    wtxids.append(wtxid)
    txs.append({"data": full.hex(), "txid": txid[::-1].hex(), "hash": wtxid[::-1].hex(), "depends": [],
                "fee": fee, "sigops": 1, "weight": weight})

commitment = sha256d(merkle_root(wtxids) + b'\x00' * 32)
bits = 0x17034219
exp, mant = bits >> 24, bits & 0xffffff
target = mant << (8 * (exp - 3))
gbt = {
    "capabilities": ["proposal"],
    "version": 0x20000000,
    "rules": ["csv", "!segwit", "taproot"],
    "vbavailable": {},
    "vbrequired": 0,
    "previousblockhash": "00000000000000000001" + rbytes(22).hex(),
    "transactions": txs,
    "coinbaseaux": {},
    "coinbasevalue": 312500000 + fees,
    "longpollid": "",
    "target": "%064x" % target,
    "mintime": 1718900000,
    "mutable": ["time", "transactions", "prevblock"],
    "noncerange": "00000000ffffffff",
    "sigoplimit": 80000,
    "sizelimit": 4000000,
    "weightlimit": 4000000,
    "curtime": 1718903000,
    "bits": "%08x" % bits,
    "height": 850000,
    "default_witness_commitment": "6a24aa21a9ed" + commitment.hex(),
}
gbt["longpollid"] = gbt["previousblockhash"] + "1"
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bitcoin_gbt_mainnet_like.json")
with open(out, "w") as f:
    json.dump(gbt, f, indent=1)
    f.write("\n")
print(out, len(txs), "transactions, coinbasevalue", gbt["coinbasevalue"])
