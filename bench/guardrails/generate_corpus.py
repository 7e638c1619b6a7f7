#!/usr/bin/env python3
"""Writes bench/guardrails/corpus.jsonl: labelled PII and secrets in realistic snippets
(support tickets, emails, chat, form dumps, config files, logs) in several Faker locales,
plus hard negatives that carry no entity at all.

Deterministic: a fixed seed for `random` and for every Faker instance (Faker 40.x; another
Faker major version may render other names and addresses, which is why the corpus itself is
committed). Offsets are Unicode code points (Python str indices), end exclusive.

    python3 bench/guardrails/generate_corpus.py            # writes corpus.jsonl beside it
    python3 bench/guardrails/generate_corpus.py --check    # regenerates in memory, diffs
    CORPUS_SEED=7 python3 bench/guardrails/generate_corpus.py --out /tmp/heldout.jsonl
                                                           # a held-out corpus: same templates,
                                                           # other values, for checking that a
                                                           # detector change generalises

Every check digit is computed here (Luhn, ISO 7064 mod 97-10, Verhoeff, DNI/NIE letter, CPF,
NIR key, codice fiscale check character, BSN 11-proof), and every labelled value is validated
again before it is written.
"""
import base64
import hashlib
import ipaddress
import json
import os
import random
import re
import string
import sys
import unicodedata
from pathlib import Path

from faker import Faker

HERE = Path(__file__).parent
SEED = int(os.environ.get("CORPUS_SEED", "20261124"))
rng = random.Random(SEED)

LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR", "en_IN", "ja_JP", "en_CA"]
FAKERS = {}
for _i, _loc in enumerate(LOCALES):
    FAKERS[_loc] = Faker(_loc)
    FAKERS[_loc].seed_instance(SEED + _i)


def lang_of(loc):
    return loc.split("_")[0]


DIGITS = string.digits
UPPER = string.ascii_uppercase
ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
HEX = "0123456789abcdef"


def rand(chars, n):
    return "".join(rng.choice(chars) for _ in range(n))


def digits(n):
    return rand(DIGITS, n)


# ----------------------------------------------------------------------------- check digits

def luhn_ok(number):
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_complete(prefix, length):
    body = prefix + digits(length - 1 - len(prefix))
    for check in DIGITS:
        if luhn_ok(body + check):
            return body + check
    raise AssertionError


def mod97_ok(iban):
    s = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in s)) % 97 == 1


def iban_check_digits(country, bban):
    s = bban + country + "00"
    return "%02d" % (98 - int("".join(str(int(c, 36)) for c in s)) % 97)


VERHOEFF_D = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
              [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
              [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
              [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]]
VERHOEFF_P = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
              [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
              [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]]
VERHOEFF_INV = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9]


def verhoeff_ok(number):
    c = 0
    for i, ch in enumerate(reversed(number)):
        c = VERHOEFF_D[c][VERHOEFF_P[i % 8][int(ch)]]
    return c == 0


def verhoeff_check(body):
    c = 0
    for i, ch in enumerate(reversed(body)):
        c = VERHOEFF_D[c][VERHOEFF_P[(i + 1) % 8][int(ch)]]
    return str(VERHOEFF_INV[c])


DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def dni_ok(value):
    v = value.replace("-", "").upper()
    num = v[:-1]
    if num[0] in "XYZ":
        num = str("XYZ".index(num[0])) + num[1:]
    return num.isdigit() and DNI_LETTERS[int(num) % 23] == v[-1]


def cpf_digits(nine):
    d = [int(c) for c in nine]
    for n in (9, 10):
        s = sum(x * (n + 1 - i) for i, x in enumerate(d))
        d.append((s * 10) % 11 % 10)
    return "".join(map(str, d))


def cpf_ok(value):
    v = re.sub(r"\D", "", value)
    return len(v) == 11 and len(set(v)) > 1 and cpf_digits(v[:9]) == v


def nir_key(body13):
    n = int(body13.replace("2A", "19").replace("2B", "18"))
    return 97 - n % 97


def nir_ok(value):
    v = value.replace(" ", "")
    return len(v) == 15 and nir_key(v[:13]) == int(v[13:])


CF_ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23]


def cf_check(body15):
    total = 0
    for i, ch in enumerate(body15):
        idx = int(ch) if ch.isdigit() else ord(ch) - 65
        total += CF_ODD[idx] if i % 2 == 0 else idx
    return chr(65 + total % 26)


def cf_ok(value):
    return len(value) == 16 and cf_check(value[:15]) == value[15]


def bsn_ok(value):
    v = re.sub(r"\D", "", value)
    if len(v) != 9:
        return False
    return (sum(int(v[i]) * (9 - i) for i in range(8)) - int(v[8])) % 11 == 0


# ----------------------------------------------------------------------------- entity values

CARD_BRANDS = [  # (brand, prefix choices, length)
    ("visa", ["4"], 16), ("mastercard", ["51", "52", "53", "54", "55", "2221", "2500", "2720"], 16),
    ("amex", ["34", "37"], 15), ("discover", ["6011", "644", "645", "649", "65"], 16),
    ("jcb", ["3528", "3530", "3566", "3589"], 16),
]


def card_number(valid=True):
    brand, prefixes, length = rng.choice(CARD_BRANDS)
    number = luhn_complete(rng.choice(prefixes), length)
    if not valid:
        number = number[:-1] + str((int(number[-1]) + rng.randint(1, 9)) % 10)
    return brand, number


def group_card(number, style):
    if len(number) == 15:
        groups = [number[:4], number[4:10], number[10:]]
    else:
        groups = [number[i:i + 4] for i in range(0, len(number), 4)]
    return {"space": " ".join(groups), "dash": "-".join(groups), "compact": number}[style]


def credit_card(loc):
    return group_card(card_number()[1], rng.choice(["space", "space", "dash", "compact", "compact"]))


IBAN_FORMATS = {  # country: BBAN pattern (a=upper letter, n=digit, c=upper alnum); bank codes for letters
    "DE": "n" * 18, "AT": "n" * 16, "BE": "n" * 12, "CH": "n" * 17, "ES": "n" * 20, "FR": "n" * 23,
    "GB": "aaaa" + "n" * 14, "IE": "aaaa" + "n" * 14, "IT": "a" + "n" * 22, "NL": "aaaa" + "n" * 10,
    "PL": "n" * 24, "PT": "n" * 21, "SE": "n" * 20, "LU": "n" * 16, "BR": "n" * 23 + "ac",
}
BANK_CODES = {"GB": ["NWBK", "BARC", "HBUK", "LOYD", "MIDL"], "IE": ["AIBK", "BOFI"], "NL": ["ABNA", "INGB", "RABO", "SNSB"]}
LOC_IBAN = {"de_DE": "DE", "fr_FR": "FR", "es_ES": "ES", "it_IT": "IT", "nl_NL": "NL", "en_GB": "GB", "pt_BR": "BR"}


def iban_value(country=None, valid=True, grouped=None):
    country = country or rng.choice(list(IBAN_FORMATS))
    pattern = IBAN_FORMATS[country]
    bban = ""
    if country in BANK_CODES:
        bban = rng.choice(BANK_CODES[country])
        pattern = pattern[4:]
    for p in pattern:
        bban += rng.choice(DIGITS if p == "n" else UPPER if p == "a" else UPPER + DIGITS)
    check = iban_check_digits(country, bban)
    if not valid:
        check = "%02d" % ((int(check) + rng.randint(1, 90) - 2) % 97 + 2)
        if mod97_ok(country + check + bban):
            check = "%02d" % ((int(check) + 1) % 97 + 2)
    compact = country + check + bban
    grouped = rng.random() < 0.55 if grouped is None else grouped
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4)) if grouped else compact


def iban(loc):
    country = LOC_IBAN.get(loc) if rng.random() < 0.6 else None
    return iban_value(country)


def us_ssn(loc):
    while True:
        area = rng.randint(1, 899)
        if area != 666:
            break
    a, g, s = "%03d" % area, "%02d" % rng.randint(1, 99), "%04d" % rng.randint(1, 9999)
    r = rng.random()
    return f"{a}-{g}-{s}" if r < 0.7 else f"{a} {g} {s}" if r < 0.85 else a + g + s


NINO_FIRST = [c for c in UPPER if c not in "DFIQUV"]
NINO_SECOND = [c for c in UPPER if c not in "DFIOQUV"]


def uk_nino(loc):
    while True:
        prefix = rng.choice(NINO_FIRST) + rng.choice(NINO_SECOND)
        if prefix not in {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}:
            break
    num, suffix = digits(6), rng.choice("ABCD")
    return f"{prefix} {num[:2]} {num[2:4]} {num[4:]} {suffix}" if rng.random() < 0.5 else f"{prefix}{num}{suffix}"


def es_dni(loc):
    if rng.random() < 0.65:
        n = rng.randint(10000000, 99999999)
        value = f"{n}{DNI_LETTERS[n % 23]}"
        return value if rng.random() < 0.8 else f"{value[:-1]}-{value[-1]}"
    lead = rng.choice("XYZ")
    n = rng.randint(0, 9999999)
    return f"{lead}{n:07d}{DNI_LETTERS[int(str('XYZ'.index(lead)) + '%07d' % n) % 23]}"


def fr_nir(loc, valid=True):
    dept = rng.choice(["%02d" % rng.randint(1, 95) for _ in range(9)] + ["2A", "2B"])
    if dept == "20":
        dept = "21"
    body = "%d%02d%02d%s%03d%03d" % (rng.randint(1, 2), rng.randint(40, 99) if rng.random() < 0.8 else rng.randint(0, 6),
                                     rng.randint(1, 12), dept, rng.randint(1, 990), rng.randint(1, 999))
    key = nir_key(body)
    if not valid:
        key = (key + rng.randint(1, 90)) % 97
        if key in (0, nir_key(body)):
            key = nir_key(body) % 96 + 1
    k = "%02d" % key
    if rng.random() < 0.6:
        return f"{body[0]} {body[1:3]} {body[3:5]} {body[5:7]} {body[7:10]} {body[10:13]} {k}"
    return body + k


def _ascii_upper(s):
    s = unicodedata.normalize("NFKD", s)
    return "".join(c for c in s.upper() if "A" <= c <= "Z")


def _cf_part(word, is_name):
    cons = [c for c in word if c not in "AEIOU"]
    vows = [c for c in word if c in "AEIOU"]
    if is_name and len(cons) >= 4:
        return cons[0] + cons[2] + cons[3]
    return ("".join(cons + vows) + "XXX")[:3]


BELFIORE = ["H501", "F205", "F839", "L219", "G273", "D612", "A944", "L736", "L781", "A662", "C351", "E506", "G224", "B157"]


def it_fiscal_code(loc, valid=True):
    F = FAKERS["it_IT"]
    female = rng.random() < 0.5
    first = F.first_name_female() if female else F.first_name_male()
    body = (_cf_part(_ascii_upper(F.last_name()), False) + _cf_part(_ascii_upper(first), True)
            + "%02d" % rng.randint(0, 99) + rng.choice("ABCDEHLMPRST")
            + "%02d" % (rng.randint(1, 28) + (40 if female else 0)) + rng.choice(BELFIORE))
    check = cf_check(body)
    if not valid:
        check = chr(65 + (ord(check) - 65 + rng.randint(1, 25)) % 26)
    return body + check


def nl_bsn(loc, valid=True):
    while True:
        d = [rng.randint(0, 9) for _ in range(8)]
        last = sum(x * (9 - i) for i, x in enumerate(d)) % 11
        if last < 10 and d[0] in (1, 2, 3, 4, 5, 6, 7, 8):
            break
    if not valid:
        last = (last + rng.randint(1, 9)) % 10
    v = "".join(map(str, d)) + str(last)
    return v if rng.random() < 0.85 else f"{v[:4]}.{v[4:6]}.{v[6:]}"


def in_aadhaar(loc, valid=True):
    body = str(rng.randint(2, 9)) + digits(10)
    check = verhoeff_check(body)
    if not valid:
        check = str((int(check) + rng.randint(1, 9)) % 10)
    n = body + check
    r = rng.random()
    return f"{n[:4]} {n[4:8]} {n[8:]}" if r < 0.6 else f"{n[:4]}-{n[4:8]}-{n[8:]}" if r < 0.7 else n


def ca_sin(loc, valid=True):
    n = luhn_complete(rng.choice("1234567"), 9)
    if not valid:
        n = n[:-1] + str((int(n[-1]) + rng.randint(1, 9)) % 10)
    r = rng.random()
    return f"{n[:3]} {n[3:6]} {n[6:]}" if r < 0.45 else f"{n[:3]}-{n[3:6]}-{n[6:]}" if r < 0.8 else n


def br_cpf(loc, valid=True):
    while True:
        nine = digits(9)
        if len(set(nine)) > 1:
            break
    n = cpf_digits(nine)
    if not valid:
        n = n[:-1] + str((int(n[-1]) + rng.randint(1, 9)) % 10)
    return f"{n[:3]}.{n[3:6]}.{n[6:9]}-{n[9:]}" if rng.random() < 0.75 else n


def ip_address(loc):
    r = rng.random()
    if r < 0.55:
        while True:
            a = rng.choice([rng.randint(1, 223), 10, 172, 192])
            if a not in (0, 127):
                break
        if a == 192:
            return f"192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        if a == 172:
            return f"172.{rng.randint(16, 31)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        return f"{a}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    groups = [rng.choice(["2001", "2a02", "2600", "2606", "fe80", "2a01", "2408"])] + [
        "%x" % rng.randint(0, 0xFFFF) if rng.random() < 0.7 else "0" for _ in range(7)]
    addr = ipaddress.IPv6Address(":".join(groups))
    return addr.exploded if r < 0.7 else addr.compressed


MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"],
    "de": ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"],
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"],
    "es": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"],
}


def a_date(lang, loc, y0=1935, y1=2006):
    y, m, d = rng.randint(y0, y1), rng.randint(1, 12), rng.randint(1, 28)
    r = rng.random()
    if r < 0.15:
        return f"{y:04d}-{m:02d}-{d:02d}"
    if lang == "en":
        if r < 0.45:
            return f"{MONTHS['en'][m - 1]} {d}, {y}" if loc == "en_US" else f"{d} {MONTHS['en'][m - 1]} {y}"
        return f"{m:02d}/{d:02d}/{y}" if loc == "en_US" else f"{d:02d}/{m:02d}/{y}"
    if lang == "de":
        return f"{d}. {MONTHS['de'][m - 1]} {y}" if r < 0.35 else f"{d:02d}.{m:02d}.{y}"
    if lang == "fr":
        return f"{d} {MONTHS['fr'][m - 1]} {y}" if r < 0.35 else f"{d:02d}/{m:02d}/{y}"
    if lang == "es":
        return f"{d} de {MONTHS['es'][m - 1]} de {y}" if r < 0.35 else f"{d:02d}/{m:02d}/{y}"
    if lang == "nl":
        return f"{d:02d}-{m:02d}-{y}"
    if lang == "ja":
        return f"{y}年{m}月{d}日" if r < 0.6 else f"{y}/{m:02d}/{d:02d}"
    return f"{d:02d}/{m:02d}/{y}"


def date_of_birth(loc):
    return a_date(lang_of(loc), loc)


def phone(loc):
    F = FAKERS[loc]
    for _ in range(50):
        p = F.phone_number()
        if "x" not in p.lower() and "ext" not in p.lower():
            return p
    raise AssertionError(loc)


def email(loc):
    F = FAKERS[loc]
    r = rng.random()
    if r < 0.6:
        return F.email()
    if r < 0.8:
        return F.company_email()
    return F.user_name() + "+" + rng.choice(["billing", "news", "support", "shop"]) + "@" + F.free_email_domain()


def postal_address(loc):
    F = FAKERS[loc]
    for _ in range(50):
        a = F.address()
        if not re.search(r"\b(PSC|USNS|USS|USCGC|Unit \d+ Box|FPO|APO|DPO)\b", a):
            return re.sub(r"\s*\n\s*", ", ", a.strip())
    raise AssertionError(loc)


def person_name(loc):
    F = FAKERS[loc]
    if loc == "ja_JP":
        return F.last_name() + rng.choice(["", " ", "\u3000"]) + F.first_name()
    return F.first_name() + " " + F.last_name()


def aws_access_key(loc):
    return "AKIA" + rand(UPPER + "234567", 16)


def aws_secret_key(loc):
    return rand(B64, 40)


def gcp_api_key(loc):
    return "AIza" + rand(B64URL, 35)


def github_token(loc):
    return "ghp_" + rand(ALNUM, 36)


def gitlab_token(loc):
    return "glpat-" + rand(B64URL, 20)


def slack_token(loc):
    kind = rng.choice(["xoxb", "xoxb", "xoxp", "xoxa"])
    if kind == "xoxp":
        return f"xoxp-{digits(11)}-{digits(11)}-{digits(13)}-{rand(HEX, 32)}"
    return f"{kind}-{digits(rng.choice([11, 12, 13]))}-{digits(13)}-{rand(ALNUM, 24)}"


def stripe_key(loc):
    return "sk_live_" + rand(ALNUM, rng.choice([24, 24, 34, 99]))


def openai_api_key(loc):
    if rng.random() < 0.5:
        return "sk-proj-" + rand(B64URL, 74) + "T3BlbkFJ" + rand(B64URL, 74)
    return "sk-proj-" + rand(B64URL, rng.randint(48, 64))


def anthropic_api_key(loc):
    return "sk-ant-api03-" + rand(B64URL, 93) + "AA"


PK_KINDS = ["RSA PRIVATE KEY", "RSA PRIVATE KEY", "RSA PRIVATE KEY", "PRIVATE KEY", "OPENSSH PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY"]


def private_key(loc, ctx):
    kind = rng.choice(PK_KINDS)
    ctx["pk_kind"] = kind
    return f"-----BEGIN {kind}-----"


def b64url(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt(loc):
    alg = rng.choice(["HS256", "HS256", "RS256"])
    header = {"alg": alg, "typ": "JWT"}
    if alg == "RS256" and rng.random() < 0.5:
        header["kid"] = rand(HEX, 16)
    payload = {"sub": rng.choice([str(rng.randint(1, 10**7)), "user_" + rand(HEX, 8)]),
               "iat": 1700000000 + rng.randint(0, 3 * 10**7)}
    payload["exp"] = payload["iat"] + rng.choice([900, 3600, 86400])
    if rng.random() < 0.5:
        payload["scope"] = rng.choice(["read:orders", "admin", "openid profile email"])
    if rng.random() < 0.3:
        payload["iss"] = rng.choice(["https://auth.example.com/", "accounts.example.org"])
    sig = b64url(bytes(rng.getrandbits(8) for _ in range(32 if alg == "HS256" else 256)))
    return ".".join([b64url(json.dumps(header, separators=(",", ":")).encode()),
                     b64url(json.dumps(payload, separators=(",", ":")).encode()), sig])


PW_WORDS = ["Hunter", "Summer", "Winter", "Dragon", "Monkey", "Sunshine", "Football", "Welcome", "Shadow", "Master",
            "Passw0rd", "Qwerty", "Letmein", "Tr0ub4dor", "Correct", "Horse", "Battery", "Staple", "Admin", "Berlin",
            "Paris", "Madrid", "Roma", "Tokio", "Lisboa", "Amsterdam", "Kaffee", "Soleil", "Gato", "Sole"]


def password_assignment(loc):
    r = rng.random()
    sym = "!@#%&*?-_.+="
    if r < 0.4:
        return rng.choice(PW_WORDS) + str(rng.randint(1, 2025)) + rng.choice(sym) + rand(string.ascii_lowercase, rng.randint(0, 2))
    if r < 0.6:
        return "-".join(rng.choice(PW_WORDS).lower() for _ in range(rng.randint(2, 4))) + str(rng.randint(0, 99))
    if r < 0.8:
        return rng.choice(ALNUM) + rand(ALNUM + sym, rng.randint(9, 19))
    return rng.choice(PW_WORDS)[0] + rng.choice(sym) + rand(string.ascii_lowercase, 4) + digits(3) + rng.choice(sym)


def password_dsn(loc):
    """A password as it appears in a connection URL: no characters that would need escaping."""
    while True:
        pw = password_assignment(loc)
        if not any(c in pw for c in "@:/?#&%+="):
            return pw


def high_entropy_secret(loc):
    r = rng.random()
    n = rng.randint(32, 48)
    if r < 0.55:
        return rand(ALNUM, n)
    if r < 0.8:
        return rand(HEX, rng.choice([32, 40, 48]))
    return rand(B64URL, n)


GEN = {
    "email": email, "phone": phone, "credit_card": credit_card, "iban": iban, "us_ssn": us_ssn, "uk_nino": uk_nino,
    "es_dni": es_dni, "fr_nir": fr_nir, "it_fiscal_code": it_fiscal_code, "nl_bsn": nl_bsn, "in_aadhaar": in_aadhaar,
    "ca_sin": ca_sin, "br_cpf": br_cpf, "ip_address": ip_address, "date_of_birth": date_of_birth,
    "postal_address": postal_address, "person_name": person_name, "aws_access_key": aws_access_key,
    "aws_secret_key": aws_secret_key, "gcp_api_key": gcp_api_key, "github_token": github_token,
    "gitlab_token": gitlab_token, "slack_token": slack_token, "stripe_key": stripe_key,
    "openai_api_key": openai_api_key, "anthropic_api_key": anthropic_api_key, "private_key": private_key,
    "jwt": jwt, "password_assignment": password_assignment, "high_entropy_secret": high_entropy_secret,
}
PII = ["email", "phone", "credit_card", "iban", "us_ssn", "uk_nino", "es_dni", "fr_nir", "it_fiscal_code", "nl_bsn",
       "in_aadhaar", "ca_sin", "br_cpf", "ip_address", "date_of_birth", "postal_address", "person_name"]
SECRETS = ["aws_access_key", "aws_secret_key", "gcp_api_key", "github_token", "gitlab_token", "slack_token",
           "stripe_key", "openai_api_key", "anthropic_api_key", "private_key", "jwt", "password_assignment",
           "high_entropy_secret"]
TYPES = PII + SECRETS
NATIONAL = {"us_ssn": "en_US", "uk_nino": "en_GB", "es_dni": "es_ES", "fr_nir": "fr_FR", "it_fiscal_code": "it_IT",
            "nl_bsn": "nl_NL", "in_aadhaar": "en_IN", "ca_sin": "en_CA", "br_cpf": "pt_BR"}
LOCAL_ID = {v: k for k, v in NATIONAL.items()}

VALIDATE = {
    "credit_card": lambda v: luhn_ok(re.sub(r"[ -]", "", v)) and len(re.sub(r"[ -]", "", v)) in (15, 16),
    "iban": lambda v: mod97_ok(v.replace(" ", "")),
    "us_ssn": lambda v: (lambda d: len(d) == 9 and d[:3] not in ("000", "666") and d[0] != "9" and d[3:5] != "00" and d[5:] != "0000")(re.sub(r"\D", "", v)),
    "uk_nino": lambda v: re.fullmatch(r"[A-Z]{2} ?\d\d ?\d\d ?\d\d ?[A-D]", v) is not None,
    "es_dni": dni_ok, "fr_nir": nir_ok, "it_fiscal_code": cf_ok, "nl_bsn": bsn_ok,
    "in_aadhaar": lambda v: (lambda d: len(d) == 12 and d[0] in "23456789" and verhoeff_ok(d))(re.sub(r"\D", "", v)),
    "ca_sin": lambda v: (lambda d: len(d) == 9 and luhn_ok(d))(re.sub(r"\D", "", v)),
    "br_cpf": cpf_ok,
    "ip_address": lambda v: ipaddress.ip_address(v) is not None,
    "aws_access_key": lambda v: re.fullmatch(r"AKIA[A-Z0-9]{16}", v) is not None,
    "aws_secret_key": lambda v: re.fullmatch(r"[A-Za-z0-9/+]{40}", v) is not None,
    "gcp_api_key": lambda v: re.fullmatch(r"AIza[A-Za-z0-9_-]{35}", v) is not None,
    "github_token": lambda v: re.fullmatch(r"ghp_[A-Za-z0-9]{36}", v) is not None,
    "gitlab_token": lambda v: re.fullmatch(r"glpat-[A-Za-z0-9_-]{20}", v) is not None,
    "slack_token": lambda v: re.fullmatch(r"xox[abp]-[0-9A-Za-z-]+", v) is not None,
    "stripe_key": lambda v: re.fullmatch(r"sk_live_[A-Za-z0-9]{24,}", v) is not None,
    "openai_api_key": lambda v: v.startswith("sk-proj-") and len(v) >= 56,
    "anthropic_api_key": lambda v: v.startswith("sk-ant-api03-") and len(v) == 108,
    "private_key": lambda v: re.fullmatch(r"-----BEGIN [A-Z ]*PRIVATE KEY-----", v) is not None,
    "jwt": lambda v: json.loads(base64.urlsafe_b64decode(v.split(".")[0] + "==")).get("typ") == "JWT",
    "email": lambda v: re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", v) is not None,
}

# ----------------------------------------------------------------------------- templates
# A template is a string with slots: {type} is a labelled entity of that type; {#name} is an
# unlabelled filler. Templates are grouped by language ("*" = any locale).

FILL = {}


def filler(name):
    def deco(fn):
        FILL[name] = fn
        return fn
    return deco


@filler("n")
def _n(loc, ctx):
    return str(rng.randint(10000, 999999))


@filler("ts")
def _ts(loc, ctx):
    return f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{rng.randint(0, 999):03d}Z"


@filler("time")
def _time(loc, ctx):
    return f"{rng.randint(7, 22):02d}:{rng.randint(0, 59):02d}"


@filler("svc")
def _svc(loc, ctx):
    return rng.choice(["auth", "billing", "gateway", "checkout", "api", "worker", "sync", "ingest", "payments", "web"])


@filler("user")
def _user(loc, ctx):
    return rng.choice(["u", "user_", "acct-", "cust"]) + str(rng.randint(1000, 99999))


@filler("host")
def _host(loc, ctx):
    return rng.choice(["db", "api", "cache", "queue", "web", "auth"]) + f"-{rng.randint(1, 9)}.{rng.choice(['internal', 'prod.example.net', 'svc.cluster.local'])}"


@filler("repo")
def _repo(loc, ctx):
    return rng.choice(["acme", "northwind", "contoso", "initech"]) + "/" + rng.choice(["api", "web", "infra", "billing-service", "mobile-app"])


@filler("pkbody")
def _pkbody(loc, ctx):
    lines = [rand(B64, 64) for _ in range(rng.randint(2, 4))] + [rand(B64, rng.randint(20, 60)) + "=="]
    return "\n".join(lines) + f"\n-----END {ctx.get('pk_kind', 'RSA PRIVATE KEY')}-----"


@filler("pkbody_indented")
def _pkbody_indented(loc, ctx):
    return "\n".join("    " + line for line in _pkbody(loc, ctx).split("\n"))


@filler("pkbody_escaped")
def _pkbody_escaped(loc, ctx):
    return _pkbody(loc, ctx).replace("\n", "\\n") + "\\n"


@filler("region")
def _region(loc, ctx):
    return rng.choice(["us-east-1", "eu-west-1", "eu-central-1", "ap-northeast-1", "us-west-2"])


@filler("amount")
def _amount(loc, ctx):
    return f"{rng.randint(5, 2500)}.{rng.randint(0, 99):02d}"


@filler("item")
def _item(loc, ctx):
    return rng.choice(["headphones", "running shoes", "a coffee grinder", "the blue jacket", "a 4K monitor", "two desk lamps"])


# Sentence templates for PII, by language. One slot each unless noted.
S = {
    "email": {
        "en": ["Please send the receipt to {email} instead of my old address.", "You can reach me at {email}.",
               "My email changed to {email}, can you update the account?", "cc {email} on the reply please.",
               "The invoice went to {email} but nobody there can open it.", "Contact: {email}"],
        "de": ["Bitte schicken Sie die Rechnung an {email}.", "Meine neue E-Mail-Adresse lautet {email}.", "Sie erreichen mich unter {email}."],
        "fr": ["Merci d'envoyer la facture à {email}.", "Mon adresse e-mail est {email}.", "Vous pouvez me joindre à {email}."],
        "es": ["Por favor envíen la factura a {email}.", "Mi correo electrónico es {email}.", "Pueden escribirme a {email}."],
        "it": ["Inviate la fattura a {email}, grazie.", "La mia email è {email}.", "Potete contattarmi a {email}."],
        "nl": ["Stuur de factuur naar {email} alstublieft.", "Mijn e-mailadres is {email}.", "U kunt mij bereiken via {email}."],
        "pt": ["Por favor enviem a nota fiscal para {email}.", "Meu e-mail é {email}.", "Podem me escrever em {email}."],
        "ja": ["請求書は{email}に送ってください。", "メールアドレスは{email}です。"],
    },
    "phone": {
        "en": ["Call me back on {phone} after 5pm.", "My mobile number is {phone}.", "The courier can reach me at {phone}.",
               "Best number to reach me: {phone}", "I tried calling {phone} but it rang out."],
        "de": ["Rufen Sie mich bitte unter {phone} zurück.", "Meine Telefonnummer ist {phone}.", "Erreichbar unter {phone} ab 14 Uhr."],
        "fr": ["Rappelez-moi au {phone} s'il vous plaît.", "Mon numéro de téléphone est le {phone}.", "Joignable au {phone} en journée."],
        "es": ["Llámenme al {phone} por la tarde.", "Mi número de teléfono es {phone}.", "Pueden localizarme en el {phone}."],
        "it": ["Richiamatemi al numero {phone}.", "Il mio numero di telefono è {phone}.", "Sono raggiungibile al {phone}."],
        "nl": ["Bel me terug op {phone}.", "Mijn telefoonnummer is {phone}.", "Ik ben bereikbaar op {phone}."],
        "pt": ["Me liguem no {phone} depois das 18h.", "Meu telefone é {phone}.", "Podem me ligar no {phone}."],
        "ja": ["折り返しは{phone}までお願いします。", "電話番号は{phone}です。"],
    },
    "credit_card": {
        "en": ["Please charge the card {credit_card} for the renewal.", "My card number is {credit_card}, exp 09/28.",
               "The payment with {credit_card} was declined twice.", "Use {credit_card} for this order instead."],
        "de": ["Bitte belasten Sie die Karte {credit_card}.", "Meine Kreditkartennummer ist {credit_card}."],
        "fr": ["Veuillez débiter la carte {credit_card}.", "Mon numéro de carte bancaire est {credit_card}."],
        "es": ["Cobren en la tarjeta {credit_card}, por favor.", "El número de mi tarjeta es {credit_card}."],
        "it": ["Addebitate sulla carta {credit_card}.", "Il numero della mia carta è {credit_card}."],
        "nl": ["Schrijf het bedrag af van kaart {credit_card}.", "Mijn creditcardnummer is {credit_card}."],
        "pt": ["Podem cobrar no cartão {credit_card}.", "O número do meu cartão é {credit_card}."],
        "ja": ["カード番号は{credit_card}です。"],
    },
    "iban": {
        "en": ["Please refund to IBAN {iban}.", "Our bank details: IBAN {iban}, reference the invoice number.",
               "Wire the deposit to {iban} by Friday."],
        "de": ["Bitte überweisen Sie den Betrag auf {iban}.", "Meine IBAN lautet {iban}.", "Bankverbindung: IBAN {iban}"],
        "fr": ["Merci de rembourser sur l'IBAN {iban}.", "Voici mon RIB : IBAN {iban}."],
        "es": ["Hagan la transferencia a la cuenta {iban}.", "Mi IBAN es {iban}."],
        "it": ["Effettuate il bonifico sull'IBAN {iban}.", "Il mio IBAN è {iban}."],
        "nl": ["Maak het bedrag over naar {iban}.", "Mijn IBAN is {iban}."],
        "pt": ["Façam o reembolso para a conta {iban}.", "Meu IBAN é {iban}."],
        "ja": ["返金先の口座（IBAN）は{iban}です。"],
    },
    "us_ssn": {"en": ["My social security number is {us_ssn}.", "SSN: {us_ssn}", "For the W-9, my SSN is {us_ssn}.",
                      "The applicant's Social Security No. {us_ssn} does not match the IRS records.", "ss# {us_ssn} on file"]},
    "uk_nino": {"en": ["My National Insurance number is {uk_nino}.", "NI number: {uk_nino}", "NINO {uk_nino} appears on my payslip.",
                       "HMRC asked me to confirm my National Insurance No. {uk_nino}."]},
    "es_dni": {"es": ["Mi DNI es {es_dni}.", "DNI: {es_dni}", "Adjunto copia del documento, número {es_dni}.",
                      "Mi NIE es {es_dni} y estoy empadronado en Madrid.", "NIF del titular: {es_dni}"],
               "en": ["My Spanish DNI is {es_dni}.", "NIE number: {es_dni}"]},
    "fr_nir": {"fr": ["Mon numéro de sécurité sociale est le {fr_nir}.", "N° de sécu : {fr_nir}", "NIR : {fr_nir}",
                      "Numéro d'inscription au répertoire (NIR) {fr_nir} à reporter sur la feuille de soins."],
               "en": ["My French social security number is {fr_nir}."]},
    "it_fiscal_code": {"it": ["Il mio codice fiscale è {it_fiscal_code}.", "Codice fiscale: {it_fiscal_code}", "C.F. {it_fiscal_code}",
                              "Allego la tessera sanitaria, codice fiscale {it_fiscal_code}."],
                       "en": ["My Italian tax code (codice fiscale) is {it_fiscal_code}."]},
    "nl_bsn": {"nl": ["Mijn BSN is {nl_bsn}.", "Burgerservicenummer: {nl_bsn}", "Mijn burgerservicenummer is {nl_bsn}, zie bijlage.",
                      "BSN-nummer van de werknemer: {nl_bsn}"],
               "en": ["My Dutch BSN is {nl_bsn}.", "Citizen service number (BSN): {nl_bsn}"]},
    "in_aadhaar": {"en": ["My Aadhaar number is {in_aadhaar}.", "Aadhaar: {in_aadhaar}", "Please link Aadhaar {in_aadhaar} to my PAN.",
                          "UIDAI Aadhaar no. {in_aadhaar} for KYC."]},
    "ca_sin": {"en": ["My SIN is {ca_sin}.", "Social Insurance Number: {ca_sin}", "The T4 shows SIN {ca_sin}, which is mine.",
                      "Please update my social insurance number to {ca_sin}."],
               "fr": ["Mon numéro d'assurance sociale (NAS) est le {ca_sin}."]},
    "br_cpf": {"pt": ["Meu CPF é {br_cpf}.", "CPF: {br_cpf}", "Segue o CPF do titular: {br_cpf}", "Nota fiscal em nome do CPF {br_cpf}."],
               "en": ["My Brazilian CPF is {br_cpf}."]},
    "ip_address": {
        "en": ["I can't log in from {ip_address}, is it blocked?", "Our office IP is {ip_address}, please whitelist it.",
               "The server at {ip_address} stopped responding.", "Traffic is coming from {ip_address} again."],
        "de": ["Unsere Büro-IP ist {ip_address}, bitte freischalten.", "Der Server {ip_address} antwortet nicht mehr."],
        "fr": ["Notre adresse IP est {ip_address}, merci de l'autoriser.", "Le serveur {ip_address} ne répond plus."],
        "es": ["La IP de la oficina es {ip_address}.", "El servidor {ip_address} no responde."],
        "it": ["L'IP del nostro ufficio è {ip_address}.", "Il server {ip_address} non risponde."],
        "nl": ["Ons kantoor-IP is {ip_address}.", "De server {ip_address} reageert niet meer."],
        "pt": ["O IP do escritório é {ip_address}.", "O servidor {ip_address} parou de responder."],
        "ja": ["社内のIPアドレスは{ip_address}です。"],
    },
    "date_of_birth": {
        "en": ["I was born on {date_of_birth}.", "DOB: {date_of_birth}", "Date of birth: {date_of_birth}",
               "The patient's date of birth is {date_of_birth}.", "D.O.B. {date_of_birth}", "Birthdate {date_of_birth}, please verify."],
        "de": ["Ich bin am {date_of_birth} geboren.", "Geburtsdatum: {date_of_birth}", "geboren am {date_of_birth}"],
        "fr": ["Je suis né le {date_of_birth}.", "Date de naissance : {date_of_birth}", "née le {date_of_birth}"],
        "es": ["Nací el {date_of_birth}.", "Fecha de nacimiento: {date_of_birth}", "fecha de nacimiento {date_of_birth}"],
        "it": ["Sono nato il {date_of_birth}.", "Data di nascita: {date_of_birth}", "nata il {date_of_birth}"],
        "nl": ["Ik ben geboren op {date_of_birth}.", "Geboortedatum: {date_of_birth}"],
        "pt": ["Nasci em {date_of_birth}.", "Data de nascimento: {date_of_birth}"],
        "ja": ["生年月日：{date_of_birth}", "私は{date_of_birth}生まれです。"],
    },
    "postal_address": {
        "en": ["Please ship it to {postal_address}.", "My new address is {postal_address}.", "Deliver to: {postal_address}",
               "Billing address: {postal_address}"],
        "de": ["Bitte liefern Sie an {postal_address}.", "Meine neue Adresse lautet: {postal_address}", "Lieferadresse: {postal_address}"],
        "fr": ["Merci de livrer au {postal_address}.", "Ma nouvelle adresse : {postal_address}", "Adresse de livraison : {postal_address}"],
        "es": ["Envíenlo a {postal_address}.", "Mi nueva dirección es {postal_address}.", "Dirección de entrega: {postal_address}"],
        "it": ["Spedite a {postal_address}.", "Il mio nuovo indirizzo è {postal_address}.", "Indirizzo di consegna: {postal_address}"],
        "nl": ["Graag bezorgen op {postal_address}.", "Mijn nieuwe adres is {postal_address}.", "Afleveradres: {postal_address}"],
        "pt": ["Enviem para {postal_address}.", "Meu novo endereço é {postal_address}.", "Endereço de entrega: {postal_address}"],
        "ja": ["送付先は{postal_address}です。", "住所：{postal_address}"],
    },
    "person_name": {
        "en": ["Hello, my name is {person_name} and I need help with my order.", "Name: {person_name}", "Dear {person_name},",
               "My name is {person_name}, account holder.", "Full name: {person_name}"],
        "de": ["Mein Name ist {person_name}.", "Ich heiße {person_name} und habe eine Frage.", "Name: {person_name}", "Hallo {person_name},"],
        "fr": ["Je m'appelle {person_name}.", "Nom : {person_name}", "Cher {person_name},", "Bonjour, je suis {person_name}."],
        "es": ["Me llamo {person_name}.", "Mi nombre es {person_name}.", "Nombre: {person_name}", "Estimado {person_name}:"],
        "it": ["Mi chiamo {person_name}.", "Nome e cognome: {person_name}", "Gentile {person_name},"],
        "nl": ["Mijn naam is {person_name}.", "Naam: {person_name}", "Beste {person_name},"],
        "pt": ["Meu nome é {person_name}.", "Nome: {person_name}", "Prezado {person_name},"],
        "ja": ["私の名前は{person_name}です。", "氏名：{person_name}", "{person_name}様"],
    },
}

# Form field labels per type and language (form dumps).
FORM = {
    "email": {"en": "Email", "de": "E-Mail", "fr": "E-mail", "es": "Correo", "it": "Email", "nl": "E-mail", "pt": "E-mail", "ja": "メール"},
    "phone": {"en": "Phone", "de": "Telefon", "fr": "Téléphone", "es": "Teléfono", "it": "Telefono", "nl": "Telefoon", "pt": "Telefone", "ja": "電話番号"},
    "credit_card": {"en": "Card number", "de": "Kartennummer", "fr": "Numéro de carte", "es": "Número de tarjeta", "it": "Numero carta", "nl": "Kaartnummer", "pt": "Número do cartão", "ja": "カード番号"},
    "iban": {"en": "IBAN", "de": "IBAN", "fr": "IBAN", "es": "IBAN", "it": "IBAN", "nl": "IBAN", "pt": "IBAN", "ja": "IBAN"},
    "us_ssn": {"en": "SSN"}, "uk_nino": {"en": "National Insurance number"}, "es_dni": {"es": "DNI/NIE"},
    "fr_nir": {"fr": "N° de sécurité sociale"}, "it_fiscal_code": {"it": "Codice fiscale"}, "nl_bsn": {"nl": "BSN"},
    "in_aadhaar": {"en": "Aadhaar No."}, "ca_sin": {"en": "SIN"}, "br_cpf": {"pt": "CPF"},
    "date_of_birth": {"en": "Date of birth", "de": "Geburtsdatum", "fr": "Date de naissance", "es": "Fecha de nacimiento", "it": "Data di nascita", "nl": "Geboortedatum", "pt": "Data de nascimento", "ja": "生年月日"},
    "postal_address": {"en": "Address", "de": "Anschrift", "fr": "Adresse", "es": "Dirección", "it": "Indirizzo", "nl": "Adres", "pt": "Endereço", "ja": "住所"},
    "person_name": {"en": "Name", "de": "Name", "fr": "Nom", "es": "Nombre", "it": "Nome", "nl": "Naam", "pt": "Nome", "ja": "氏名"},
    "ip_address": {"en": "Client IP", "de": "IP-Adresse", "fr": "Adresse IP", "es": "IP", "it": "Indirizzo IP", "nl": "IP-adres", "pt": "IP", "ja": "IPアドレス"},
}
FORM_EXTRA = {
    "en": ["Plan: Premium", "Newsletter: yes", "Preferred contact: email", "Customer since: 2019", "Status: pending review"],
    "de": ["Tarif: Premium", "Newsletter: ja", "Kunde seit: 2018", "Status: in Prüfung"],
    "fr": ["Formule : Premium", "Newsletter : oui", "Client depuis : 2020", "Statut : en attente"],
    "es": ["Plan: Premium", "Boletín: sí", "Cliente desde: 2017", "Estado: pendiente"],
    "it": ["Piano: Premium", "Newsletter: sì", "Cliente dal: 2021", "Stato: in attesa"],
    "nl": ["Abonnement: Premium", "Nieuwsbrief: ja", "Klant sinds: 2016", "Status: in behandeling"],
    "pt": ["Plano: Premium", "Newsletter: sim", "Cliente desde: 2019", "Status: pendente"],
    "ja": ["プラン: プレミアム", "ニュースレター: 希望する", "ステータス: 審査中"],
}

# Secret templates (config files, shell, code, HTTP). Multi-line; any locale.
SECRET_T = {
    "aws_access_key": ["aws_access_key_id = {aws_access_key}", "export AWS_ACCESS_KEY_ID={aws_access_key}",
                       '"AccessKeyId": "{aws_access_key}",', "AWS_ACCESS_KEY_ID: {aws_access_key}",
                       "s3 = boto3.client('s3', aws_access_key_id='{aws_access_key}')"],
    "aws_secret_key": ["aws_secret_access_key = {aws_secret_key}", "export AWS_SECRET_ACCESS_KEY={aws_secret_key}",
                       '"SecretAccessKey": "{aws_secret_key}"', "AWS_SECRET_ACCESS_KEY: {aws_secret_key}",
                       "aws_secret_access_key='{aws_secret_key}'"],
    "gcp_api_key": ["GOOGLE_API_KEY={gcp_api_key}", "https://maps.googleapis.com/maps/api/geocode/json?address=main+st&key={gcp_api_key}",
                    'apiKey: "{gcp_api_key}",', "gcloud key: {gcp_api_key}", "const MAPS_KEY = '{gcp_api_key}';"],
    "github_token": ["export GITHUB_TOKEN={github_token}", "git clone https://{github_token}@github.com/{#repo}.git",
                     "Authorization: token {github_token}", "GH_TOKEN: {github_token}", "//npm.pkg.github.com/:_authToken={github_token}"],
    "gitlab_token": ["PRIVATE-TOKEN: {gitlab_token}", "GITLAB_TOKEN={gitlab_token}",
                     "git remote set-url origin https://oauth2:{gitlab_token}@gitlab.example.com/{#repo}.git",
                     'curl --header "PRIVATE-TOKEN: {gitlab_token}" https://gitlab.example.com/api/v4/projects'],
    "slack_token": ["SLACK_BOT_TOKEN={slack_token}", "slack:\n  token: {slack_token}", "client = WebClient(token=\"{slack_token}\")",
                    'curl -H "Authorization: Bearer {slack_token}" https://slack.com/api/chat.postMessage'],
    "stripe_key": ["STRIPE_SECRET_KEY={stripe_key}", "stripe.api_key = \"{stripe_key}\"", "curl https://api.stripe.com/v1/charges -u {stripe_key}:",
                   "STRIPE_KEY: {stripe_key}"],
    "openai_api_key": ["OPENAI_API_KEY={openai_api_key}", "client = OpenAI(api_key=\"{openai_api_key}\")",
                       'curl https://api.openai.com/v1/chat/completions -H "Authorization: Bearer {openai_api_key}"', "openai_key: {openai_api_key}"],
    "anthropic_api_key": ["ANTHROPIC_API_KEY={anthropic_api_key}", "client = anthropic.Anthropic(api_key=\"{anthropic_api_key}\")",
                          'curl https://api.anthropic.com/v1/messages -H "x-api-key: {anthropic_api_key}"', "anthropic:\n  api_key: {anthropic_api_key}"],
    "private_key": ["{private_key}\n{#pkbody}", "$ cat ~/.ssh/id_rsa\n{private_key}\n{#pkbody}", "tls.key: |\n    {private_key}\n{#pkbody_indented}",
                    '"private_key": "{private_key}\\n{#pkbody_escaped}",', "ssl_certificate_key contents:\n{private_key}\n{#pkbody}"],
    "jwt": ["Authorization: Bearer {jwt}", "Cookie: session={jwt}; path=/", '{"access_token": "{jwt}", "token_type": "Bearer"}',
            "https://app.example.com/callback#id_token={jwt}", "curl -H 'Authorization: Bearer {jwt}' https://api.example.com/v2/orders"],
    "password_assignment": ["password={password_assignment}", "DB_PASSWORD={password_assignment}", "spring.datasource.password={password_assignment}",
                            '"password": "{password_assignment}"', "PGPASSWORD={password_assignment} psql -h {#host} -U app",
                            "  password: {password_assignment}", "DATABASE_URL=postgres://app:{password_dsn}@{#host}:5432/prod",
                            "smtp_pass = \"{password_assignment}\"", "REDIS_PASSWORD: {password_assignment}"],
    "high_entropy_secret": ["api_key: {high_entropy_secret}", "API_SECRET={high_entropy_secret}", "client_secret = \"{high_entropy_secret}\"",
                            "X-Api-Token: {high_entropy_secret}", "Authorization: Bearer {high_entropy_secret}", "token: {high_entropy_secret}",
                            "webhook_secret={high_entropy_secret}", '"secret": "{high_entropy_secret}"', "SENTRY_AUTH_TOKEN={high_entropy_secret}"],
}
# Chat/ticket sentences that wrap a secret snippet, by language.
SECRET_WRAP = {
    "en": ["I think I accidentally committed this to the repo, can you check?\n{x}", "Here is my config, the deploy still fails:\n{x}",
           "Why does this return 401?\n{x}", "Pasting the env from the broken pod:\n{x}", "{x}\nIs this the right format?"],
    "de": ["Hier ist meine Konfiguration, der Deploy schlägt trotzdem fehl:\n{x}", "Warum bekomme ich 401?\n{x}"],
    "fr": ["Voici ma configuration, le déploiement échoue toujours :\n{x}", "Pourquoi est-ce que j'ai une erreur 401 ?\n{x}"],
    "es": ["Aquí está mi configuración, el despliegue sigue fallando:\n{x}", "¿Por qué me da 401?\n{x}"],
    "it": ["Ecco la mia configurazione, il deploy fallisce ancora:\n{x}"],
    "nl": ["Hier is mijn configuratie, de deploy faalt nog steeds:\n{x}"],
    "pt": ["Segue minha configuração, o deploy continua falhando:\n{x}"],
    "ja": ["設定ファイルを貼ります。デプロイが失敗します。\n{x}"],
}
PW_SENTENCE = {
    "en": ["my password is {password_assignment} if you need to log in", "Temporary password: {password_assignment}"],
    "de": ["Mein Passwort ist {password_assignment}, falls Sie sich einloggen müssen.", "Passwort: {password_assignment}"],
    "fr": ["Mon mot de passe est {password_assignment}.", "Mot de passe : {password_assignment}"],
    "es": ["Mi contraseña es {password_assignment}.", "Contraseña: {password_assignment}"],
    "it": ["La mia password è {password_assignment}."], "nl": ["Mijn wachtwoord is {password_assignment}."],
    "pt": ["Minha senha é {password_assignment}."], "ja": ["パスワード：{password_assignment}"],
}
# Log lines: multi-slot.
LOGS = [
    "{#ts} WARN {#svc}: failed login for {email} from {ip_address}",
    "{#ts} INFO {#svc}: request from {ip_address} user={#user} status=200",
    '{ip_address} - - [12/Mar/2025:10:{#time}] "GET /api/v1/orders HTTP/1.1" 403 512',
    "{#ts} ERROR {#svc}: upstream {ip_address}:8443 timed out",
    "{#ts} DEBUG {#svc}: sending receipt to {email}",
    "{#ts} INFO {#svc}: password reset requested by {email} (ip {ip_address})",
    "{#ts} DEBUG {#svc}: headers={{'Authorization': 'Bearer {jwt}'}}",
    "{#ts} DEBUG {#svc}: connecting with postgres://app:{password_dsn}@{#host}:5432/app",
    "{#ts} WARN {#svc}: config dump: db.user=app db.password={password_assignment} db.pool=10",
    "{#ts} DEBUG {#svc}: POST /login body=username=admin&password={password_dsn}",
    "{#ts} WARN {#svc}: SMS to {phone} failed: carrier rejected",
    "{#ts} ERROR {#svc}: charge failed for card {credit_card}: insufficient funds",
    "{#ts} DEBUG {#svc}: env GITHUB_TOKEN={github_token}",
    "{#ts} INFO {#svc}: client {ip_address} presented key {aws_access_key}",
]
CONFIG_MULTI = [
    "[default]\naws_access_key_id = {aws_access_key}\naws_secret_access_key = {aws_secret_key}\nregion = {#region}",
    "AWS_ACCESS_KEY_ID={aws_access_key}\nAWS_SECRET_ACCESS_KEY={aws_secret_key}\nAWS_DEFAULT_REGION={#region}",
    "database:\n  host: {#host}\n  user: app\n  password: {password_assignment}\nsmtp:\n  from: {email}",
    "OPENAI_API_KEY={openai_api_key}\nANTHROPIC_API_KEY={anthropic_api_key}\nLOG_LEVEL=info",
    "STRIPE_SECRET_KEY={stripe_key}\nSLACK_BOT_TOKEN={slack_token}\nPORT=8080",
    '{"github": {"token": "{github_token}"}, "gitlab": {"token": "{gitlab_token}"}, "timeout": 30}',
    "[api]\nendpoint = https://api.example.com\napi_key = {high_entropy_secret}\nretries = 3",
    "services:\n  app:\n    environment:\n      - GOOGLE_API_KEY={gcp_api_key}\n      - ADMIN_EMAIL={email}",
]

LANG_TEXT = {
    "greet": {"en": ["Hi team,", "Hello,", "Good morning,", "Hi there,"], "de": ["Hallo zusammen,", "Guten Tag,", "Hallo,"],
              "fr": ["Bonjour,", "Bonjour à tous,"], "es": ["Hola,", "Buenos días,"], "it": ["Buongiorno,", "Ciao,"],
              "nl": ["Hallo,", "Goedemiddag,"], "pt": ["Olá,", "Bom dia,"], "ja": ["お世話になっております。", "こんにちは。"]},
    "sign": {"en": ["Thanks,\nCustomer Support", "Best regards,\nBilling team", "Cheers", "Thanks in advance!"],
             "de": ["Viele Grüße\nKundenservice", "Mit freundlichen Grüßen"], "fr": ["Cordialement,\nLe service client", "Merci d'avance !"],
             "es": ["Un saludo,\nAtención al cliente", "Gracias de antemano."], "it": ["Cordiali saluti,\nAssistenza clienti", "Grazie mille."],
             "nl": ["Met vriendelijke groet,\nKlantenservice", "Alvast bedankt!"], "pt": ["Atenciosamente,\nAtendimento", "Obrigado!"],
             "ja": ["よろしくお願いいたします。"]},
    "subject": {"en": ["Account update", "Refund request", "Shipping problem", "Login issue", "Payment failed", "Change of details"],
                "de": ["Änderung meiner Daten", "Rückerstattung", "Problem mit der Lieferung", "Zahlung fehlgeschlagen"],
                "fr": ["Mise à jour du compte", "Demande de remboursement", "Problème de livraison"],
                "es": ["Actualización de datos", "Solicitud de reembolso", "Problema con el envío"],
                "it": ["Aggiornamento dati", "Richiesta di rimborso", "Problema di consegna"],
                "nl": ["Wijziging gegevens", "Terugbetaling", "Probleem met levering"],
                "pt": ["Atualização cadastral", "Pedido de reembolso", "Problema na entrega"],
                "ja": ["登録情報の変更", "返金のお願い", "配送の問題"]},
    "filler": {"en": ["I need to update my account details.", "The payment did not go through yesterday.", "Please update the record below.",
                      "This is the second time I am writing about this.", "Order {#n} still hasn't arrived."],
               "de": ["Ich möchte meine Daten aktualisieren.", "Die Zahlung ist gestern nicht durchgegangen.", "Bestellung {#n} ist noch nicht angekommen."],
               "fr": ["Je souhaite mettre à jour mes informations.", "Le paiement n'est pas passé hier.", "La commande {#n} n'est toujours pas arrivée."],
               "es": ["Quiero actualizar mis datos.", "El pago no se realizó ayer.", "El pedido {#n} todavía no ha llegado."],
               "it": ["Vorrei aggiornare i miei dati.", "Il pagamento non è andato a buon fine ieri.", "L'ordine {#n} non è ancora arrivato."],
               "nl": ["Ik wil mijn gegevens bijwerken.", "De betaling is gisteren niet gelukt.", "Bestelling {#n} is nog niet aangekomen."],
               "pt": ["Quero atualizar meus dados.", "O pagamento não foi aprovado ontem.", "O pedido {#n} ainda não chegou."],
               "ja": ["登録情報を更新したいです。", "昨日の支払いが失敗しました。", "注文{#n}がまだ届いていません。"]},
    "ticket": {"en": "Ticket", "de": "Ticket", "fr": "Ticket", "es": "Incidencia", "it": "Ticket", "nl": "Ticket", "pt": "Chamado", "ja": "問い合わせ"},
    "subject_label": {"en": "Subject", "de": "Betreff", "fr": "Objet", "es": "Asunto", "it": "Oggetto", "nl": "Onderwerp", "pt": "Assunto", "ja": "件名"},
    "agent_reply": {"en": ["Thanks, let me check that for you.", "Got it, one moment please.", "I've updated it, anything else?"],
                    "de": ["Danke, ich prüfe das.", "Einen Moment bitte."], "fr": ["Merci, je vérifie.", "Un instant s'il vous plaît."],
                    "es": ["Gracias, lo reviso.", "Un momento, por favor."], "it": ["Grazie, controllo subito."], "nl": ["Dank u, ik kijk het na."],
                    "pt": ["Obrigado, vou verificar."], "ja": ["確認いたします。少々お待ちください。"]},
}


def pick(table, lang):
    return rng.choice(table.get(lang) or table["en"])


# ----------------------------------------------------------------------------- rendering

SLOT = re.compile(r"\{\{|\}\}|\{(#?[a-z_0-9]+)\}")


def render(template, loc, ctx, entities, text_prefix):
    """Renders template; appends entities with offsets relative to len(text_prefix)."""
    out = []
    pos = len(text_prefix)
    i = 0
    for m in SLOT.finditer(template):
        chunk = template[i:m.start()]
        out.append(chunk)
        pos += len(chunk)
        i = m.end()
        tok = m.group(0)
        if tok in ("{{", "}}"):
            out.append(tok[0])
            pos += 1
            continue
        name = m.group(1)
        if name.startswith("#"):
            value = FILL[name[1:]](loc, ctx)
            # fillers may contain slots of their own (e.g. "Order {#n}")
            value = render(value, loc, ctx, entities, "\0" * pos) if "{" in value else value
        elif name == "password_dsn":
            value = password_dsn(loc)
            entities.append({"type": "password_assignment", "start": pos, "end": pos + len(value)})
        else:
            gen = GEN[name]
            value = gen(loc, ctx) if name == "private_key" else gen(loc)
            entities.append({"type": name, "start": pos, "end": pos + len(value)})
        out.append(value)
        pos += len(value)
    out.append(template[i:])
    return "".join(out)


class Doc:
    def __init__(self, loc):
        self.loc, self.text, self.entities, self.ctx = loc, "", [], {}

    def add(self, template):
        self.text += render(template, self.loc, self.ctx, self.entities, self.text)
        return self


def sentence_for(etype, loc, wrap=True):
    lang = lang_of(loc)
    if etype in S:
        table = S[etype]
        if lang in table and rng.random() < 0.85:
            return rng.choice(table[lang])
        return rng.choice(table.get("en") or next(iter(table.values())))
    if etype == "password_assignment" and rng.random() < 0.4:
        return pick(PW_SENTENCE, lang)
    snippet = rng.choice(SECRET_T[etype])
    return pick(SECRET_WRAP, lang).replace("{x}", snippet) if wrap else "\n" + snippet + "\n"


def secondary_type(primary, loc):
    if primary in SECRETS:
        pool = ["email", "ip_address", "password_assignment", "high_entropy_secret", "github_token", "aws_access_key", "jwt"]
    else:
        pool = ["email", "phone", "postal_address", "person_name", "date_of_birth", "iban", "credit_card", "ip_address"]
        if loc in LOCAL_ID:
            pool += [LOCAL_ID[loc]] * 3
    choices = [t for t in pool if t != primary]
    return rng.choice(choices)


def frame_ticket(doc, sentences):
    lang = lang_of(doc.loc)
    doc.add(f"{LANG_TEXT['ticket'].get(lang, 'Ticket')} #{{#n}} — {pick(LANG_TEXT['subject'], lang)}\n")
    doc.add(pick(LANG_TEXT["greet"], lang) + " ")
    if rng.random() < 0.6:
        doc.add(pick(LANG_TEXT["filler"], lang) + " ")
    doc.add(" ".join(sentences))
    doc.add("\n" + pick(LANG_TEXT["sign"], lang) if rng.random() < 0.5 else "")


def frame_email(doc, sentences):
    lang = lang_of(doc.loc)
    doc.add(f"{LANG_TEXT['subject_label'].get(lang, 'Subject')}: {pick(LANG_TEXT['subject'], lang)}\n\n")
    first = sentences[0]
    if first.startswith(("Dear ", "Cher ", "Estimado ", "Gentile ", "Beste ", "Prezado ", "Hallo {person")):
        doc.add(first + "\n\n")
        sentences = sentences[1:]
    else:
        doc.add(pick(LANG_TEXT["greet"], lang) + "\n\n")
    if rng.random() < 0.5:
        doc.add(pick(LANG_TEXT["filler"], lang) + " ")
    doc.add(" ".join(sentences))
    doc.add("\n\n" + pick(LANG_TEXT["sign"], lang))


def frame_chat(doc, sentences):
    lang = lang_of(doc.loc)
    h, m = rng.randint(8, 20), rng.randint(0, 50)
    for k, s in enumerate(sentences):
        if k:
            doc.add(f"\n[{h:02d}:{m + 2 * k - 1:02d}] agent: {pick(LANG_TEXT['agent_reply'], lang)}\n")
        doc.add(f"[{h:02d}:{m + 2 * k:02d}] customer: " + s)


def frame_plain(doc, sentences):
    doc.add(" ".join(sentences))


def frame_form(doc, types):
    lang = lang_of(doc.loc)
    lines = []
    for t in types:
        label = FORM[t].get(lang) or FORM[t].get("en") or next(iter(FORM[t].values()))
        lines.append(f"{label}: {{{t}}}")
    lines += rng.sample(FORM_EXTRA.get(lang, FORM_EXTRA["en"]), rng.randint(0, 2))
    rng.shuffle(lines)
    sep = rng.choice(["\n", "\n", " | ", "; "])
    head = rng.choice(["", "Form submission #{#n}\n", "--- contact form ---\n", "[web form]\n"])
    doc.add(head + sep.join(lines))


SAMPLES = []


def emit(kind, subtype, doc):
    SAMPLES.append({"id": f"{kind}-{subtype}-{len(SAMPLES):05d}", "locale": doc.loc, "text": doc.text,
                    "entities": sorted(doc.entities, key=lambda e: e["start"])})


def locale_for(etype):
    if etype in NATIONAL:
        return NATIONAL[etype] if rng.random() < 0.85 else rng.choice(["en_US", "en_GB", "de_DE", "fr_FR"])
    if etype in SECRETS:
        return rng.choice(LOCALES[:10] + ["en_US", "en_US", "en_GB"])
    return rng.choice(LOCALES[:10])


def positive(primary):
    while True:
        doc = build_positive(primary)
        if 1 <= len(doc.entities) <= 3:
            return emit("pos", primary, doc)


def build_positive(primary):
    loc = locale_for(primary)
    doc = Doc(loc)
    n_entities = rng.choices([1, 2, 3], weights=[55, 33, 12])[0]
    r = rng.random()
    if primary in FORM and r < 0.2:
        types = [primary]
        while len(types) < n_entities:
            t = secondary_type(primary, loc)
            if t in FORM and t not in types:
                types.append(t)
            elif len(types) >= 1 and rng.random() < 0.3:
                break
        frame_form(doc, types)
        return doc
    if r < 0.32:
        logs = [t for t in LOGS if "{" + primary + "}" in t or (primary == "password_assignment" and "{password_dsn}" in t)]
        if logs:
            doc.add(rng.choice(logs))
            if rng.random() < 0.4:
                doc.add("\n" + rng.choice(LOGS))
            return doc
    if primary in SECRETS and r < 0.5:
        multi = [t for t in CONFIG_MULTI if "{" + primary + "}" in t]
        if multi:
            doc.add(rng.choice(multi))
            return doc
    sentences = [sentence_for(primary, loc)]
    for _ in range(n_entities - 1):
        sentences.append(sentence_for(secondary_type(primary, loc), loc, wrap=False))
    if rng.random() < 0.5 and primary not in SECRETS:
        rng.shuffle(sentences)
    frame = rng.choice([frame_ticket, frame_email, frame_chat, frame_plain])
    if primary in SECRETS and rng.random() < 0.4:
        frame = frame_plain
    frame(doc, sentences)
    return doc


# ----------------------------------------------------------------------------- hard negatives

def isbn13():
    body = rng.choice(["978", "979"]) + digits(9)
    check = (10 - sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body)) % 10) % 10
    s = body + str(check)
    return f"{s[:3]}-{s[3]}-{s[4:7]}-{s[7:12]}-{s[12]}" if rng.random() < 0.6 else s


def isbn10():
    body = digits(9)
    check = sum((10 - i) * int(c) for i, c in enumerate(body)) % 11
    check = (11 - check) % 11
    s = body + ("X" if check == 10 else str(check))
    return f"{s[0]}-{s[1:4]}-{s[4:9]}-{s[9]}" if rng.random() < 0.6 else s


def luhn_fail_16():
    while True:
        _, number = card_number(valid=False)
        if not luhn_ok(number) and len(number) == 16:
            return group_card(number, rng.choice(["space", "dash", "compact"]))


def ssn_invalid():
    area = rng.choice(["000", "666", "9%02d" % rng.randint(0, 99), "9%02d" % rng.randint(0, 99)])
    group, serial = "%02d" % rng.randint(1, 99), "%04d" % rng.randint(1, 9999)
    if rng.random() < 0.2:
        area, group = "%03d" % rng.randint(1, 665), "00"
    return f"{area}-{group}-{serial}"


def png_b64():
    data = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(rng.getrandbits(8) for _ in range(rng.randint(150, 330)))
    return base64.b64encode(data).decode()


def jpeg_b64():
    data = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(rng.getrandbits(8) for _ in range(rng.randint(150, 330)))
    return base64.b64encode(data).decode()


NEG = {}


def neg(name, weight=1.0):
    def deco(fn):
        NEG[name] = (fn, weight)
        return fn
    return deco


@neg("order_number")
def _neg_order(lang):
    n = f"{digits(3)}-{digits(7)}-{digits(7)}" if rng.random() < 0.5 else rng.choice(["#", "A-", "SO-", "ORD-"]) + digits(rng.randint(6, 10))
    return {"en": [f"Order {n} has shipped.", f"Where is my order {n}? It's been two weeks.", f"Your order number is {n}."],
            "de": [f"Bestellnummer {n} wurde versandt.", f"Wo bleibt meine Bestellung {n}?"],
            "fr": [f"La commande {n} a été expédiée.", f"Numéro de commande : {n}"],
            "es": [f"El pedido {n} ha sido enviado.", f"Número de pedido: {n}"],
            "it": [f"L'ordine {n} è stato spedito."], "nl": [f"Bestelling {n} is verzonden."],
            "pt": [f"O pedido {n} foi enviado."], "ja": [f"ご注文番号{n}は発送済みです。"]}


@neg("invoice_id")
def _neg_invoice(lang):
    n = rng.choice(["INV", "RE", "FA", "FAC", "NF"]) + f"-{rng.randint(2019, 2026)}-{digits(rng.randint(4, 6))}"
    return {"en": [f"Invoice {n} is overdue by 14 days.", f"Please find attached invoice {n}."],
            "de": [f"Rechnung {n} ist seit 14 Tagen fällig."], "fr": [f"La facture {n} est en retard de paiement."],
            "es": [f"La factura {n} está vencida."], "it": [f"La fattura {n} risulta scaduta."],
            "nl": [f"Factuur {n} staat nog open."], "pt": [f"A fatura {n} está vencida."], "ja": [f"請求書{n}のお支払い期限が過ぎています。"]}


@neg("isbn")
def _neg_isbn(lang):
    i = isbn13() if rng.random() < 0.6 else isbn10()
    return {"en": [f"The textbook is ISBN {i}, second edition.", f"ISBN: {i}", f"Ordered {i} from the library catalogue."],
            "de": [f"Das Buch hat die ISBN {i}."], "fr": [f"Le livre porte l'ISBN {i}."], "es": [f"El libro tiene el ISBN {i}."]}


@neg("uuid")
def _neg_uuid(lang):
    u = "%08x-%04x-4%03x-%x%03x-%012x" % (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12), rng.choice([8, 9, 10, 11]), rng.getrandbits(12), rng.getrandbits(48))
    return {"*": [f"request_id={u} status=500", f"Trace ID: {u}", f"The job {u} finished in 42s.", f'{{"id": "{u}", "state": "queued"}}']}


@neg("git_sha")
def _neg_sha(lang):
    sha = rand(HEX, 40)
    return {"*": [f"commit {sha}\nAuthor: ci-bot\n\n    Bump dependencies", f"Fixed in {sha[:rng.choice([7, 8, 12])]}, see the changelog.",
                  f"git checkout {sha}", f"Merge {sha[:7]} into main", f"deployed revision {sha}"]}


@neg("version")
def _neg_version(lang):
    v = f"{rng.randint(1, 12)}.{rng.randint(0, 30)}.{rng.randint(0, 30)}.{rng.randint(0, 250)}"
    return {"*": [f"Upgrade to v{v} fixes the crash.", f"Version {v} released", f"agent/{v} (linux; x86_64)",
                  f"Windows build 10.0.{rng.randint(17000, 26000)}.{rng.randint(100, 4000)}", f"firmware v{v} is available",
                  f"OID 1.3.6.1.4.1.{rng.randint(100, 60000)}.{rng.randint(1, 9)}", f"pinned package==v{v}"]}


@neg("timestamp")
def _neg_ts(lang):
    d = a_date(lang, {"en": "en_US"}.get(lang, "en_GB"), 2019, 2027)
    ts = _ts(None, None)
    return {"en": [f"The meeting was moved to {d}.", f"Invoice date: {d}", f"Expires on {d}.", f"created_at={ts}", f"Delivered {d} at 14:32."],
            "de": [f"Das Meeting wurde auf den {d} verschoben.", f"Lieferdatum: {d}", f"Gültig bis {d}."],
            "fr": [f"La réunion est reportée au {d}.", f"Date de facture : {d}"],
            "es": [f"La reunión se pasó al {d}.", f"Fecha de factura: {d}"],
            "it": [f"La riunione è stata spostata al {d}."], "nl": [f"De vergadering is verplaatst naar {d}."],
            "pt": [f"A reunião foi remarcada para {d}."], "ja": [f"会議は{d}に変更になりました。"],
            "*": [f"{ts} INFO scheduler: job finished", f"last_modified: {ts}"]}


@neg("price")
def _neg_price(lang):
    a = rng.randint(1, 9999)
    c = rng.randint(0, 99)
    return {"en": [f"Total: ${a:,}.{c:02d} including tax.", f"The upgrade costs £{a}.{c:02d} per year."],
            "de": [f"Gesamtbetrag: {a:,}".replace(",", ".") + f",{c:02d} €"], "fr": [f"Montant total : {a} {c:02d},00 €"],
            "es": [f"Precio: {a},{c:02d} €"], "it": [f"Totale: € {a},{c:02d}"], "nl": [f"Totaal: € {a},{c:02d}"],
            "pt": [f"Total: R$ {a:,}".replace(",", ".") + f",{c:02d}"], "ja": [f"合計金額は¥{a * 100:,}です。"],
            "*": [f"₹ {a * 10:,}.00 paid via UPI", f"price_cents={a * 100 + c}"]}


@neg("tracking")
def _neg_tracking(lang):
    t = rng.choice([f"1Z{rand(UPPER + DIGITS, 6)}{digits(10)}", "94" + digits(20), digits(12), f"JD{digits(18)}", f"{digits(10)}",
                    f"{rand(UPPER, 2)}{digits(9)}{rng.choice(['US', 'DE', 'GB', 'FR', 'NL'])}"])
    return {"en": [f"Tracking number: {t}", f"Your parcel {t} is out for delivery."],
            "de": [f"Sendungsnummer: {t}"], "fr": [f"Numéro de suivi : {t}"], "es": [f"Número de seguimiento: {t}"],
            "it": [f"Codice di tracciamento: {t}"], "nl": [f"Track & trace: {t}"], "pt": [f"Código de rastreio: {t}"], "ja": [f"追跡番号：{t}"]}


@neg("luhn_fail", 2.0)
def _neg_luhn(lang):
    n = luhn_fail_16()
    return {"en": [f"Reference {n} for your records.", f"Serial number {n}", f"Membership no. {n} (not a payment card)", f"loyalty id {n}"],
            "de": [f"Referenznummer {n}", f"Kundennummer {n}"], "fr": [f"Référence {n}"], "es": [f"Referencia {n}"],
            "it": [f"Riferimento {n}"], "nl": [f"Referentie {n}"], "pt": [f"Protocolo {n}"]}


@neg("iban_fail", 2.0)
def _neg_iban(lang):
    v = iban_value(valid=False)
    return {"en": [f"Account ref {v}", f"Payment reference: {v}", f"IBAN {v} (rejected by the bank: invalid checksum)"],
            "de": [f"Verwendungszweck {v}", f"IBAN {v} wurde als ungültig abgelehnt."],
            "fr": [f"Référence de virement {v}"], "es": [f"Referencia {v}"], "nl": [f"Kenmerk {v}"]}


@neg("nine_digit", 1.5)
def _neg_nine(lang):
    n = str(rng.randint(100000000, 999999999))
    return {"en": [f"Item count {n}", f"Case ID {n} has been escalated.", f"Your reference number is {n}.", f"Part no. {n[:3]}-{n[3:5]}-{n[5:]} is back in stock.",
                   f"page views: {int(n):,}", f"Customer number {n}"],
            "de": [f"Kundennummer {n}", f"Vorgangsnummer {n}"], "fr": [f"Numéro de dossier {n}"], "es": [f"Número de cliente {n}"],
            "nl": [f"Klantnummer {n}"], "it": [f"Numero pratica {n}"]}


@neg("ssn_invalid", 1.5)
def _neg_ssn(lang):
    v = ssn_invalid()
    return {"_loc": "en_US", "en": [f"SSN: {v}", f"The form lists SSN {v}, which the IRS says is not a valid number.", f"social security number {v}",
                   f"ITIN/SSN field: {v}"]}


@neg("all_caps")
def _neg_caps(lang):
    words = ["URGENT", "PLEASE", "CONFIRM", "SHIPMENT", "WAREHOUSE", "INVENTORY", "QUARTERLY", "REPORT", "DEADLINE", "ACKNOWLEDGEMENT",
             "INTERNATIONALIZATION", "CONFIGURATION", "MAINTENANCE", "SCHEDULED", "NOTICE", "IMPORTANT", "REMINDER", "FINAL", "OFFER",
             "CONNECTION", "REFUSED", "RETRYING", "WARNING", "DEPRECATED", "ACHTUNG", "WICHTIG", "ATTENTION", "AVISO", "IMPORTANTE"]
    s = " ".join(rng.choice(words) for _ in range(rng.randint(4, 9)))
    return {"*": [s, s + "!!!", f"RE: FWD: {s}", f"{s} {rng.choice(['ABCDEFGHIJKLMNOPQRST', 'QWERTYUIOPASDFGHJKLZ', 'ZYXWVUTSRQPONMLKJIHG'])}"]}


@neg("base64_image")
def _neg_b64img(lang):
    b = png_b64() if rng.random() < 0.6 else jpeg_b64()
    mime = "png" if b.startswith("iVBOR") else "jpeg"
    return {"*": [f'<img src="data:image/{mime};base64,{b}" alt="logo">', f"![screenshot](data:image/{mime};base64,{b})",
                  f"background: url(data:image/{mime};base64,{b});", f'{{"avatar": "data:image/{mime};base64,{b}"}}']}


@neg("long_url")
def _neg_url(lang):
    q = "&".join([f"q={rng.choice(['running+shoes', 'winter+jacket', 'usb-c+hub', 'garden+chair'])}", "utm_source=newsletter",
                  "utm_medium=email", f"utm_campaign=spring_sale_{rng.randint(2023, 2026)}", f"gclid=Cj0KCQjw{rand(B64URL, 60)}",
                  f"fbclid=IwAR{rand(B64URL, 50)}", f"page={rng.randint(1, 9)}", "sort=price_asc"][:rng.randint(4, 8)])
    return {"*": [f"See https://shop.example.com/search?{q}", f"Link: https://www.example.org/products/{rng.randint(1000, 9999)}?{q}",
                  f"<a href=\"https://news.example.net/article?{q}\">read more</a>"]}


@neg("hex_colour")
def _neg_hex(lang):
    c = [rand("0123456789abcdefABCDEF", rng.choice([6, 6, 3, 8])) for _ in range(3)]
    return {"*": [f".btn {{ color: #{c[0]}; background: #{c[1]}; border-color: #{c[2]}; }}", f"Use colour #{c[0]} for the header.",
                  f'theme: {{ primary: "#{c[0]}", accent: "#{c[1]}" }}']}


@neg("file_hash")
def _neg_hash(lang):
    h = rand(HEX, 64)
    return {"*": [f"sha256:{h}", f"image: registry.example.com/app@sha256:{h}", f"SHA256 (release-{rng.randint(1, 9)}.{rng.randint(0, 20)}.tar.gz) = {h}",
                  f"checksum sha256:{h}  dist/app.zip", f"md5: {rand(HEX, 32)}", f"sha1 {rand(HEX, 40)} ./bin/server"]}


@neg("placeholder")
def _neg_placeholder(lang):
    return {"*": ["password: ${DB_PASSWORD}", "api_key: <YOUR_API_KEY>", "OPENAI_API_KEY=sk-...", "token: REDACTED", "password=********",
                  "AWS_SECRET_ACCESS_KEY=<your secret here>", "Authorization: Bearer $TOKEN", "client_secret: {{ vault.client_secret }}",
                  "GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}", "password_min_length = 12", "token_ttl_seconds: 3600",
                  "secret_name: prod-db-credentials", "The token expires in 3600 seconds.", "Forgot your password? Click the reset link.",
                  "Passwort vergessen? Klicken Sie auf den Link.", "api_key_header: X-Api-Key", "Set STRIPE_SECRET_KEY in your environment."]}


@neg("invalid_national_id", 2.0)
def _neg_ids(lang):
    kind = rng.choice(["cpf", "aadhaar", "bsn", "dni", "cf", "nir", "sin"])
    if kind == "cpf":
        v = br_cpf(None, valid=False)
        return {"_loc": "pt_BR", "*": [f"CPF {v} inválido, confira os dígitos.", f"O sistema rejeitou o CPF {v}."]}
    if kind == "aadhaar":
        v = in_aadhaar(None, valid=False)
        return {"_loc": "en_IN", "*": [f"Aadhaar {v} failed verification (invalid checksum).", f"Reference no. {v}"]}
    if kind == "bsn":
        v = nl_bsn(None, valid=False)
        return {"_loc": "nl_NL", "*": [f"Het nummer {v} is geen geldig BSN.", f"Dossiernummer {v}"]}
    if kind == "dni":
        n = rng.randint(10000000, 99999999)
        wrong = DNI_LETTERS[(n % 23 + rng.randint(1, 22)) % 23]
        return {"_loc": "es_ES", "*": [f"El DNI {n}{wrong} no es válido, la letra no coincide.", f"Expediente {n}{wrong}"]}
    if kind == "cf":
        v = it_fiscal_code(None, valid=False)
        return {"_loc": "it_IT", "*": [f"Il codice {v} non è un codice fiscale valido.", f"Codice pratica {v}"]}
    if kind == "nir":
        v = fr_nir(None, valid=False)
        return {"_loc": "fr_FR", "*": [f"Le numéro {v} a été refusé (clé invalide).", f"Référence dossier {v}"]}
    v = ca_sin(None, valid=False)
    return {"_loc": "en_CA", "*": [f"Reference {v}", f"The number {v} is not a valid SIN."]}


@neg("ip_like")
def _neg_iplike(lang):
    a = [rng.randint(256, 999), rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255)]
    rng.shuffle(a)
    return {"*": [f"Section {'.'.join(map(str, a))} of the standard", f"build {'.'.join(map(str, a))}",
                  f"coordinates {rng.uniform(-80, 80):.4f}, {rng.uniform(-170, 170):.4f}"]}


@neg("misc_code")
def _neg_code(lang):
    return {"*": ["for (int i = 0; i < 1024; i++) { buf[i] = 0; }", f"SELECT * FROM orders WHERE id = {rng.randint(1000, 99999)};",
                  "timeout: 30s\nretries: 5\nlog_level: INFO", "ping @devops-team in #incidents", f"HTTP/1.1 404 Not Found\nContent-Length: {rng.randint(10, 999)}",
                  f"matrix = [[{rng.randint(0, 9)}, {rng.randint(0, 9)}], [{rng.randint(0, 9)}, {rng.randint(0, 9)}]]",
                  "def hash_password(pw: str) -> str:\n    return bcrypt.hashpw(pw.encode(), bcrypt.gensalt())",
                  f"const MAX_TOKENS = {rng.choice([1024, 4096, 8192])};"]}


NEG_FRAME = {
    "en": ["Hi, {x} Thanks.", "{x}", "Note from support: {x}", "[{#time}] customer: {x}"],
    "de": ["Hallo, {x} Danke.", "{x}", "[{#time}] Kunde: {x}"], "fr": ["Bonjour, {x} Merci.", "{x}"], "es": ["Hola, {x} Gracias.", "{x}"],
    "it": ["Buongiorno, {x} Grazie.", "{x}"], "nl": ["Hallo, {x} Bedankt.", "{x}"], "pt": ["Olá, {x} Obrigado.", "{x}"], "ja": ["{x}"],
}


NEG_SEEN = set()


def negative(name):
    for _ in range(30):
        doc = build_negative(name)
        if doc.text not in NEG_SEEN:
            break
    NEG_SEEN.add(doc.text)
    emit("neg", name, doc)


def build_negative(name):
    fn, _ = NEG[name]
    loc = rng.choice(LOCALES)
    lang = lang_of(loc)
    table = fn(lang)
    if "_loc" in table:
        loc, lang = table["_loc"], lang_of(table["_loc"])
    options = table.get(lang) or table.get("*") or table["en"]
    if lang in table and "*" in table and rng.random() < 0.3:
        options = table["*"]
    x = rng.choice(options)
    doc = Doc(loc)
    frame = pick(NEG_FRAME, lang) if "\n" not in x else "{x}"
    head, _, tail = frame.partition("{x}")
    doc.add(head)
    doc.text += x  # literal: may contain braces
    doc.add(tail)
    return doc


# ----------------------------------------------------------------------------- main

def generate():
    for _ in range(100):
        for t in TYPES:
            positive(t)
    weights = {k: w for k, (_, w) in NEG.items()}
    total = sum(weights.values())
    plan = []
    for k, w in weights.items():
        plan += [k] * round(1000 * w / total)
    for name in plan:
        negative(name)
    rng.shuffle(SAMPLES)


def validate(samples):
    counts = {t: 0 for t in TYPES}
    for s in samples:
        prev_end = -1
        for e in s["entities"]:
            v = s["text"][e["start"]:e["end"]]
            assert e["type"] in counts, e
            assert v and v == v.strip() and e["start"] >= prev_end, (s["id"], e, v)
            prev_end = e["end"]
            check = VALIDATE.get(e["type"])
            assert check is None or check(v), (s["id"], e["type"], v)
            counts[e["type"]] += 1
        if s["id"].startswith("neg-"):
            assert not s["entities"]
            assert not re.search(r"[\w.+-]+@[\w-]+\.[a-z]{2,}", s["text"]), s
    return counts


def main():
    generate()
    counts = validate(SAMPLES)
    lines = [json.dumps(s, ensure_ascii=False) for s in SAMPLES]
    body = "\n".join(lines) + "\n"
    path = Path(sys.argv[sys.argv.index("--out") + 1]) if "--out" in sys.argv else HERE / "corpus.jsonl"
    if "--check" in sys.argv:
        same = path.exists() and path.read_text(encoding="utf-8") == body
        print("corpus.jsonl is up to date" if same else "corpus.jsonl differs from a fresh generation")
        sys.exit(0 if same else 1)
    path.write_text(body, encoding="utf-8")
    pos = sum(1 for s in SAMPLES if s["entities"])
    print(f"{path.name}: {len(SAMPLES)} samples ({pos} with entities, {len(SAMPLES) - pos} hard negatives), "
          f"{len(body.encode()) / 1e6:.2f} MB, sha256 {hashlib.sha256(body.encode()).hexdigest()[:12]}")
    for t in TYPES:
        print(f"  {t:22s} {counts[t]}")


if __name__ == "__main__":
    main()
