"""Building blocks of the labeled keyspaces (tests/keyspaces.py): word lists and makers of realistic
key parts (ids, uuids, e-mails, handles, slugs, IPs, dates, epochs), seeded by the caller's numpy
Generator so every keyspace is reproducible.
"""

from __future__ import annotations

import string
from collections.abc import Callable

import numpy as np

Maker = Callable[[np.random.Generator, int], list[str] | list[bytes]]

FIRST = [
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "mallory",
    "niaj",
    "olivia",
    "peggy",
    "rupert",
    "sybil",
    "trent",
    "victor",
    "walter",
    "xavier",
    "yolanda",
    "zoe",
    "liam",
    "noah",
    "emma",
    "ava",
    "sophia",
    "mia",
    "lucas",
    "mateo",
    "elena",
    "hugo",
    "ines",
    "omar",
    "priya",
    "ravi",
    "sara",
    "tariq",
    "uma",
    "yusuf",
    "zara",
    "kenji",
    "haruto",
    "mei",
    "chen",
    "wei",
    "ana",
    "joao",
]
LAST = [
    "smith",
    "jones",
    "brown",
    "taylor",
    "wilson",
    "davies",
    "evans",
    "thomas",
    "johnson",
    "roberts",
    "walker",
    "wright",
    "robinson",
    "thompson",
    "white",
    "hughes",
    "edwards",
    "green",
    "hall",
    "wood",
    "harris",
    "martin",
    "jackson",
    "clarke",
    "lewis",
    "garcia",
    "muller",
    "rossi",
    "dubois",
    "novak",
    "kowalski",
    "silva",
    "santos",
    "tanaka",
    "sato",
    "kim",
    "park",
    "nguyen",
    "singh",
    "patel",
    "khan",
]
ADJ = [
    "red",
    "blue",
    "green",
    "black",
    "white",
    "silver",
    "golden",
    "quick",
    "lazy",
    "happy",
    "bright",
    "dark",
    "soft",
    "hard",
    "tiny",
    "giant",
    "classic",
    "modern",
    "vintage",
    "smart",
    "wireless",
    "organic",
    "premium",
    "basic",
    "ultra",
    "eco",
]
NOUN = [
    "shoes",
    "shirt",
    "jacket",
    "lamp",
    "chair",
    "table",
    "phone",
    "case",
    "cable",
    "charger",
    "bottle",
    "mug",
    "watch",
    "backpack",
    "tent",
    "guitar",
    "camera",
    "drone",
    "speaker",
    "headphones",
    "blender",
    "kettle",
    "pillow",
    "blanket",
    "sofa",
    "desk",
]
DOMAINS = [
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "example.org",
    "acme.io",
    "proton.me",
    "fastmail.fm",
    "web.de",
]
B62 = np.array(list(string.ascii_letters + string.digits))
HEX = np.array(list("0123456789abcdef"))


def ints(rng: np.random.Generator, n: int, lo: int = 1, hi: int = 10**7) -> np.ndarray:
    return rng.integers(lo, hi, n)


def chars(rng: np.random.Generator, n: int, length: int, alphabet: np.ndarray) -> list[str]:
    picks = alphabet[rng.integers(0, len(alphabet), (n, length))]
    return ["".join(row) for row in picks]


def uuids(rng: np.random.Generator, n: int) -> list[str]:
    return [f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}" for h in chars(rng, n, 32, HEX)]


def emails(rng: np.random.Generator, n: int) -> list[str]:
    f, last, d = rng.choice(FIRST, n), rng.choice(LAST, n), rng.choice(DOMAINS, n)
    sep = rng.choice([".", "_", ""], n)
    num = rng.integers(0, 100, n)
    return [
        f"{a}{s}{b}{k if k > 80 else ''}@{dom}" for a, s, b, k, dom in zip(f, sep, last, num, d, strict=True)
    ]


def usernames(rng: np.random.Generator, n: int) -> list[str]:
    """Free-text handles: mostly letters, some with . or _, never guessable as ids by shape."""
    f, last = rng.choice(FIRST, n), rng.choice(LAST, n)
    style = rng.integers(0, 4, n)
    out = []
    for a, b, s in zip(f, last, style, strict=True):
        out.append(a + b if s == 0 else f"{a}.{b}" if s == 1 else f"{a}_{b}" if s == 2 else b + a[:2])
    return out


def slugs(rng: np.random.Generator, n: int, words: int = 3) -> list[str]:
    parts = [rng.choice(ADJ, n), rng.choice(ADJ, n), rng.choice(NOUN, n)][-words:]
    return ["-".join(p) for p in zip(*parts, strict=True)]


def queries(rng: np.random.Generator, n: int) -> list[str]:
    k = rng.integers(1, 4, n)
    return [" ".join(rng.choice(ADJ + NOUN, size=int(j))) for j in k]


def ips(rng: np.random.Generator, n: int) -> list[str]:
    o = rng.integers(1, 255, (n, 4))
    return [f"{a}.{b}.{c}.{d}" for a, b, c, d in o]


def dates(rng: np.random.Generator, n: int, fmt: str = "%Y-%m-%d") -> list[str]:
    iso = (np.datetime64("1990-01-01") + rng.integers(0, 36500, n)).astype(str).tolist()
    return iso if fmt == "%Y-%m-%d" else [d.replace("-", "") for d in iso]


def epochs(rng: np.random.Generator, n: int, step: int = 60) -> np.ndarray:
    return (1_600_000_000 + rng.integers(0, 3 * 365 * 86400 // step, n) * step).astype(np.int64)


def fixed(*names: str) -> Maker:
    """A family of named singletons (``config:feature_flags``, ``queue:mailers``)."""
    return lambda rng, n: [names[i % len(names)] for i in range(n)]


def escape_key(raw: bytes) -> tuple[str, bool]:
    """As KEY_SCHEMA describes: UTF-8 as is, otherwise \\xNN for undecodable bytes and \\\\ for backslash."""
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.replace(b"\\", b"\\\\").decode("utf-8", errors="backslashreplace"), True
