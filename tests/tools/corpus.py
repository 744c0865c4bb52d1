#!/usr/bin/env python3
"""corpus.py - fill one IMAP account with a deterministic, realistic Japanese-office corpus.

Usage:
  corpus.py --port P [--host H] [--mode imaps|starttls|none] [--cafile CA]
            --user U --password-file F [--master M] [--messages N] [--big-mb M]
            [--seed S] [--folders A,B,...] [--folder NAME ...] [--connections K] [--json]

Contract:
  - The same (seed, messages, big-mb, folders) always produce the same message bytes, flags
    and INTERNALDATEs, on any server.  Folder names are built from the server's personal
    NAMESPACE (prefix and separator): on the lab's "old" server the default set is INBOX,
    INBOX.Sent, INBOX.Drafts, INBOX.Trash, INBOX.迷惑メール, INBOX.取引先, INBOX.取引先.2024,
    INBOX.取引先.2025, INBOX.Projects, INBOX.Projects.Alpha, INBOX.Projects.Beta,
    INBOX.アーカイブ, INBOX.個人 &メモ; on "new" the same without "INBOX." and with '/'.
    --folders/--folder give full server names instead (UTF-8; INBOX must be included
    explicitly if wanted); the first one receives the big message.
  - Folders are created (if missing) and subscribed; messages are APPENDed, never modified.
    Running twice appends everything twice.
  - Messages: ~40% ISO-2022-JP (encoded-word Subject, 7bit body), ~40% UTF-8 text (8bit,
    base64 or quoted-printable), ~15% multipart (alternative, mixed with attachments,
    forwarded message/rfc822), ~5% plain ASCII; ~5% have no Message-ID; two pairs of
    different messages share a Message-ID; one message is appended twice identically (same
    bytes, flags and date) to the same folder; every line ends in CRLF.  With --big-mb M one
    extra message carries an M MiB base64 attachment.
  - Flags: \\Seen \\Flagged \\Answered \\Draft \\Deleted, $Forwarded $Junk $NotJunk $MDNSent and
    the custom keywords Project_X, ClientACME, todo.  INTERNALDATE spans 2019-2026 in several
    time zones.
  - Messages go in MULTIAPPEND batches (about 4x faster on Dovecot than one APPEND each),
    pipelined with LITERAL+, one connection per group of folders in parallel; a message over
    1 MiB is appended alone, and a failed batch is retried message by message so that the
    error names the message (e.g. NO [LIMIT] for a too-big one).
  - Exit status 0 only if every APPEND succeeded.  Prints a summary (or JSON with --json).
"""

import argparse
import base64
import imaplib
import json
import quopri
import random
import signal
import ssl
import sys
import threading
import time
from collections import Counter, defaultdict
from email.header import Header
from urllib.parse import quote

import imaputil as U

CRLF = b"\r\n"

DEFAULT_FOLDERS = [
    (), ("Sent",), ("Drafts",), ("Trash",), ("迷惑メール",), ("取引先",), ("取引先", "2024"),
    ("取引先", "2025"), ("Projects",), ("Projects", "Alpha"), ("Projects", "Beta"),
    ("アーカイブ",), ("個人 &メモ",),
]
# Share of the messages per default folder (the rest of a realistic mailbox: INBOX big).
DEFAULT_WEIGHTS = [30, 14, 2, 5, 5, 4, 8, 8, 2, 7, 5, 8, 2]

FLAG_KEYWORDS = ["$Forwarded", "$Junk", "$NotJunk", "$MDNSent", "Project_X", "ClientACME", "todo"]

ZONES = [(540, 55), (0, 10), (-300, 10), (60, 6), (330, 5), (-480, 6), (600, 4), (-210, 2),
         (345, 2)]  # (minutes east of UTC, weight); includes +0530 / -0330 / +0545

T_START = 1546300800  # 2019-01-01T00:00:00Z
T_END = 1782864000    # 2026-07-01T00:00:00Z

# ------------------------------------------------------------------ text material
# Every Japanese string here must be in JIS X 0208 (ISO-2022-JP): no half-width katakana,
# no circled digits, no wave dash variants.

JA_SUBJECTS = [
    "【重要】サーバー移行のお知らせ", "お見積りの件", "打ち合わせ日程のご相談",
    "請求書送付のご案内", "議事録：定例会議", "納品書の送付について", "新製品のご紹介",
    "契約更新についてのご確認", "来週の出張の件", "年末年始の営業日のお知らせ",
    "システムメンテナンスのお知らせ", "資料送付のお願い", "発注書を送付いたします",
    "経費精算の締め切りについて", "会議室予約の確認", "ご挨拶（担当者変更のお知らせ）",
    "メールアドレス変更のお知らせ", "検収のお願い", "社内研修のご案内", "お問い合わせの件",
]
JA_LINES = [
    "お世話になっております。", "株式会社サンプルの田中です。",
    "先日の打ち合わせの件でご連絡いたしました。", "添付の資料をご確認ください。",
    "来週の会議は水曜日の午後二時からに変更になりました。",
    "見積書を送付いたしますので、ご査収のほどよろしくお願いいたします。",
    "納期について再度ご相談させてください。", "請求書の発行日は月末となります。",
    "ご不明な点がございましたらお気軽にお問い合わせください。",
    "引き続きよろしくお願い申し上げます。", "以上、取り急ぎご連絡まで。", "本件は社外秘です。",
    "プロジェクトの進捗を共有します。", "サーバー移行は三月に予定しています。",
    "メールアドレスが変更になります。", "東京本社　営業部", "〒100-0001　東京都千代田区千代田一丁目",
    "電話：03-1234-5678　ＦＡＸ：03-1234-5679", "ご確認のほど、よろしくお願いいたします。",
    "金額は税込みで１２万円です。", "第３四半期の売上は前年比１０５％でした。",
    "明日は祝日のため、返信が遅れる場合があります。",
]
JA_NAMES = [("田中 太郎", "tanaka"), ("佐藤 花子", "sato"), ("鈴木 一郎", "suzuki"),
            ("高橋 美咲", "takahashi"), ("渡辺 健", "watanabe"), ("伊藤 由美", "ito"),
            ("山本 直樹", "yamamoto"), ("中村 さくら", "nakamura")]
EN_NAMES = [("John Smith", "john.smith"), ("Maria García", "maria.garcia"),
            ("Jürgen Müller", "juergen.mueller"), ("Chloé Dubois", "chloe"),
            ("Li Wei", "li.wei"), ("Anna Ivanova", "anna")]
DOMAINS = ["example.co.jp", "example.jp", "sample-shoji.co.jp", "partner.example.com",
           "mail.example.org"]
UTF8_SUBJECTS = [
    "Quarterly report Q3", "Re: 打ち合わせの件 / meeting", "Grüße aus München",
    "Café meeting on Friday ☕", "🎉 Launch party", "Invoice #2024-117", "日本語とEnglishの混在テスト",
    "Résumé and cover letter", "Προσφορά / offer", "Отчёт за месяц", "Server migration plan",
    "Fwd: 【共有】Alpha プロジェクト資料", "Price list 2025 — updated", "Weekly sync notes",
]
UTF8_LINES = [
    "Hello team,", "Please find the numbers for this quarter below.",
    "Grüße aus München und bis bald!", "The café on the corner opens at 8 — let's meet there.",
    "日本語の段落とEnglish textが混在しています。", "Emoji test: 🎉📎✅ and ☕.",
    "Ελληνικά: καλημέρα.", "Русский: доброе утро.", "Price: 12,000 JPY (税込)",
    "Thanks, and best regards,", "-- ", "Sent from my phone",
    "A line with trailing spaces   ", "= signs = and a very long line " + "x" * 180,
]
ASCII_LINES = [
    "Hi,", "The build of release 4.2 is ready for testing.", "Logs are attached in the ticket.",
    "Regards,", "ops team", "> quoted text from the previous mail", "",
]


def ja_bytes(text):
    return text.encode("iso2022_jp")


def encoded_word(text, charset):
    """RFC 2047 encoding of a header value (folded with CRLF SP), as bytes.

    ISO-2022-JP words are written =?ISO-2022-JP?B?...?= as Japanese mailers do; UTF-8 ones
    keep Python's lower case, so both spellings occur."""
    enc = Header(text, charset, maxlinelen=76).encode(linesep="\r\n").encode("ascii")
    return enc.replace(b"=?iso-2022-jp?b?", b"=?ISO-2022-JP?B?")


def addr(display, local, domain, charset):
    if all(ord(c) < 128 for c in display):
        return b'"' + display.encode() + b'" <' + f"{local}@{domain}".encode() + b">"
    return encoded_word(display, charset) + b" <" + f"{local}@{domain}".encode() + b">"


def crlf_lines(lines):
    return CRLF.join(lines) + CRLF


def b64_body(data):
    return base64.encodebytes(data).replace(b"\n", CRLF)


def qp_body(text_bytes):
    # quopri wants '\n' line ends; convert afterwards so soft breaks are CRLF too.
    return quopri.encodestring(text_bytes.replace(CRLF, b"\n")).replace(b"\n", CRLF)


_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def rfc5322_date(t, offset_minutes):
    tm = time.gmtime(t + offset_minutes * 60)
    sign = "+" if offset_minutes >= 0 else "-"
    off = abs(offset_minutes)
    return (f"{_DAYS[tm.tm_wday]}, {tm.tm_mday} {_MONTHS[tm.tm_mon - 1]} {tm.tm_year} "
            f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} {sign}{off // 60:02d}{off % 60:02d}")


# ------------------------------------------------------------------ one message

class Msg:
    __slots__ = ("index", "folder", "data", "flags", "date", "kind", "msgid")

    def __init__(self, index, folder, data, flags, date, kind, msgid):
        self.index = index
        self.folder = folder
        self.data = data
        self.flags = flags      # tuple of str
        self.date = date        # IMAP date-time string with zone
        self.kind = kind
        self.msgid = msgid      # str or None


def pick_weighted(rng, pairs):
    total = sum(w for _, w in pairs)
    x = rng.uniform(0, total)
    for v, w in pairs:
        x -= w
        if x <= 0:
            return v
    return pairs[-1][0]


def make_headers(rng, kind, user, folder_role, msgid, t, zone):
    """Header lines (bytes, no final blank line) for one message."""
    charset = "iso-2022-jp" if kind == "ja" else "utf-8"
    if kind == "ja" or (kind != "ascii" and rng.random() < 0.5):
        name, local = rng.choice(JA_NAMES)
    else:
        name, local = rng.choice(EN_NAMES)
    other = addr(name, local, rng.choice(DOMAINS), charset)
    me = addr(user.capitalize(), user, "example.co.jp", "utf-8")
    sender, rcpt = (me, other) if folder_role in ("sent", "drafts") else (other, me)
    if kind == "ja":
        subject = encoded_word(rng.choice(JA_SUBJECTS), "iso-2022-jp")
        if rng.random() < 0.3:
            subject = b"Re: " + subject
    elif kind == "ascii":
        subject = rng.choice(["Build 4.2 ready", "Re: ticket 1234", "lunch?", "disk usage report",
                              "Weekly status"]).encode()
    else:
        s = rng.choice(UTF8_SUBJECTS)
        subject = s.encode() if s.isascii() else encoded_word(s, "utf-8")
    date = rfc5322_date(t - rng.randint(0, 900), zone).encode()
    h = [b"Return-Path: <" + f"{local}@example.net".encode() + b">",
         b"Received: from mx.example.net (mx.example.net [192.0.2.25])" + CRLF
         + b"\tby mail.old-host.jp with ESMTP id " + f"{rng.getrandbits(48):012X}".encode()
         + b"; " + date,
         b"From: " + sender,
         b"To: " + rcpt]
    if rng.random() < 0.2:
        h.append(b"Cc: " + addr(*rng.choice(EN_NAMES), "example.co.jp", "utf-8"))
    h.append(b"Subject: " + subject)
    h.append(b"Date: " + date)
    if msgid is not None:
        h.append(b"Message-ID: <" + msgid.encode() + b">")
    if rng.random() < 0.3:
        h.append(b"In-Reply-To: <" + f"{rng.getrandbits(64):016x}@example.net".encode() + b">")
    h.append(b"MIME-Version: 1.0")
    if rng.random() < 0.25:
        h.append(b"X-Mailer: " + rng.choice([b"Microsoft Outlook 16.0", b"Becky! ver. 2.81",
                                              b"Thunderbird 115.3", b"Apple Mail (2.3731)"]))
    return h


def body_ja(rng):
    lines = [rng.choice(JA_LINES) for _ in range(rng.randint(3, 14))]
    return ([b"Content-Type: text/plain; charset=ISO-2022-JP", b"Content-Transfer-Encoding: 7bit"],
            crlf_lines([ja_bytes(x) for x in lines]))


def utf8_text(rng, n_min=3, n_max=16):
    return crlf_lines([rng.choice(UTF8_LINES).encode() for _ in range(rng.randint(n_min, n_max))])


def body_utf8(rng):
    text = utf8_text(rng)
    cte = rng.choice(["8bit", "base64", "quoted-printable"])
    if cte == "8bit":
        body = text
    elif cte == "base64":
        body = b64_body(text)
    else:
        body = qp_body(text)
    return ([b"Content-Type: text/plain; charset=UTF-8",
             b"Content-Transfer-Encoding: " + cte.encode()], body)


def body_ascii(rng):
    lines = [rng.choice(ASCII_LINES).encode() for _ in range(rng.randint(2, 10))]
    return ([b"Content-Type: text/plain; charset=us-ascii", b"Content-Transfer-Encoding: 7bit"],
            crlf_lines(lines))


def boundary(rng):
    return f"=_mslab_{rng.getrandbits(80):020x}".encode()


def part(headers, body):
    return crlf_lines(headers) + CRLF + body


def multipart(subtype, rng, parts):
    b = boundary(rng)
    out = [b"This is a multi-part message in MIME format." + CRLF]
    for p in parts:
        out.append(b"--" + b + CRLF + p)
    out.append(b"--" + b + b"--" + CRLF)
    return ([b"Content-Type: multipart/" + subtype + b"; boundary=\"" + b + b"\""],
            CRLF.join(out))


def attachment(rng):
    kind = rng.choice(["pdf", "csv", "jpg", "xlsx"])
    if kind == "pdf":
        name = rng.choice(["見積書.pdf", "請求書_2024.pdf", "report.pdf"])
        data = b"%PDF-1.4\n" + rng.randbytes(rng.randint(1500, 20000)) + b"\n%%EOF\n"
        ctype = "application/pdf"
    elif kind == "csv":
        name = rng.choice(["売上データ.csv", "data.csv"])
        rows = ["日付,品目,数量,金額"] + [f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d},"
                                     f"商品{rng.randint(1, 99)},{rng.randint(1, 50)},{rng.randint(100, 99999)}"
                                     for _ in range(rng.randint(5, 60))]
        data = "\r\n".join(rows).encode("utf-8") + CRLF
        ctype = "text/csv; charset=UTF-8"
    elif kind == "jpg":
        name = rng.choice(["photo.jpg", "写真.jpg"])
        data = b"\xff\xd8\xff\xe0" + rng.randbytes(rng.randint(3000, 30000)) + b"\xff\xd9"
        ctype = "image/jpeg"
    else:
        name = "集計表.xlsx"
        data = b"PK\x03\x04" + rng.randbytes(rng.randint(2000, 15000))
        ctype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return attachment_part(name, data, ctype, rng.random() < 0.5)


def attachment_part(name, data, ctype, rfc2231):
    if name.isascii():
        disp = f'attachment; filename="{name}"'.encode()
        ct = f'{ctype}; name="{name}"'.encode()
    elif rfc2231:
        disp = b"attachment;" + CRLF + b" filename*=UTF-8''" + quote(name).encode()
        ct = ctype.encode() + b";" + CRLF + b" name*=UTF-8''" + quote(name).encode()
    else:  # what many Japanese mailers still send: RFC 2047 inside a parameter
        enc = encoded_word(name, "iso-2022-jp")
        disp = b'attachment;' + CRLF + b' filename="' + enc + b'"'
        ct = ctype.encode() + b';' + CRLF + b' name="' + enc + b'"'
    return part([b"Content-Type: " + ct, b"Content-Transfer-Encoding: base64",
                 b"Content-Disposition: " + disp], b64_body(data))


def body_multipart(rng, user):
    choice = rng.random()
    if choice < 0.4:  # text + html alternative
        text = utf8_text(rng, 2, 8)
        html = (b"<html><head><meta charset=\"utf-8\"></head><body>" + CRLF
                + text.replace(CRLF, b"<br>" + CRLF) + b"</body></html>" + CRLF)
        return multipart(b"alternative", rng, [
            part([b"Content-Type: text/plain; charset=UTF-8",
                  b"Content-Transfer-Encoding: quoted-printable"], qp_body(text)),
            part([b"Content-Type: text/html; charset=UTF-8",
                  b"Content-Transfer-Encoding: quoted-printable"], qp_body(html))])
    if choice < 0.85:  # text + 1..3 attachments
        h, b = body_ja(rng) if rng.random() < 0.5 else body_utf8(rng)
        parts = [part(h, b)] + [attachment(rng) for _ in range(rng.randint(1, 3))]
        return multipart(b"mixed", rng, parts)
    # forwarded message as an attachment
    h, b = body_utf8(rng)
    inner_h, inner_b = body_ja(rng)
    inner = crlf_lines([b"From: " + addr("佐藤 花子", "sato", "example.jp", "iso-2022-jp"),
                        b"To: " + f"{user}@example.co.jp".encode(),
                        b"Subject: " + encoded_word(rng.choice(JA_SUBJECTS), "iso-2022-jp"),
                        b"Date: Mon, 1 Apr 2024 09:00:00 +0900",
                        b"Message-ID: <" + f"fw{rng.getrandbits(64):x}@example.jp".encode() + b">",
                        b"MIME-Version: 1.0"] + inner_h) + CRLF + inner_b
    return multipart(b"mixed", rng, [part(h, b), part([b"Content-Type: message/rfc822",
                                                        b"Content-Disposition: attachment"], inner)])


def build_message(rng, kind, user, folder_role, msgid, t, zone):
    headers = make_headers(rng, kind, user, folder_role, msgid, t, zone)
    if kind == "ja":
        ch, body = body_ja(rng)
    elif kind == "utf8":
        ch, body = body_utf8(rng)
    elif kind == "ascii":
        ch, body = body_ascii(rng)
    else:
        ch, body = body_multipart(rng, user)
    return crlf_lines(headers + ch) + CRLF + body


def folder_role(parts):
    if not parts:
        return "inbox"
    return {"Sent": "sent", "Drafts": "drafts", "Trash": "trash", "迷惑メール": "junk"}.get(
        parts[-1], "other")


def make_flags(rng, role):
    f = []
    if role == "sent":
        f.append("\\Seen")
    elif role == "drafts":
        f.append("\\Draft")
        if rng.random() < 0.3:
            f.append("\\Seen")
    elif rng.random() < 0.7:
        f.append("\\Seen")
    if rng.random() < 0.1:
        f.append("\\Flagged")
    if role not in ("sent", "drafts") and rng.random() < 0.15:
        f.append("\\Answered")
    if role != "drafts" and rng.random() < 0.01:
        f.append("\\Draft")
    if rng.random() < (0.3 if role == "trash" else 0.03):
        f.append("\\Deleted")
    if role == "junk":
        f.append("$Junk")
    elif rng.random() < 0.03:
        f.append("$NotJunk")
    for kw, p in (("$Forwarded", 0.05), ("$MDNSent", 0.03), ("Project_X", 0.05),
                  ("ClientACME", 0.03), ("todo", 0.04)):
        if rng.random() < p:
            f.append(kw)
    return tuple(f)


def generate(seed, n, big_mb, folders, user):
    """folders: list of (server_name, role, weight).  Returns the list of Msg in APPEND order.

    The big message (if any) goes to the first folder; the specials (Message-ID pairs, the
    identical duplicate) are placed deterministically when n is large enough."""
    plan_rng = random.Random(f"mslab-corpus:{seed}:plan")
    names = [f[0] for f in folders]
    weights = [f[2] for f in folders]
    # Assign folders: every folder gets at least one message when n allows.
    assignment = []
    for i in range(n):
        if i < len(folders) and n >= 2 * len(folders):
            assignment.append(i)
        else:
            assignment.append(plan_rng.choices(range(len(folders)), weights=weights)[0])
    plan_rng.shuffle(assignment)
    kinds = [pick_weighted(plan_rng, [("ja", 40), ("utf8", 40), ("multi", 15), ("ascii", 5)])
             for _ in range(n)]
    no_msgid = set(plan_rng.sample(range(n), k=max(1, n * 5 // 100))) if n >= 20 else set()
    shared = []  # (donor, taker): taker reuses donor's Message-ID
    dup_index = None
    if n >= 20:
        candidates = [i for i in range(n) if i not in no_msgid]
        a, b, c, d, e = plan_rng.sample(candidates, 5)
        shared = [tuple(sorted((a, b))), tuple(sorted((c, d)))]  # donor comes first
        assignment[shared[0][1]] = assignment[shared[0][0]]  # one pair in one folder
        dup_index = e

    msgs = []
    msgids = {}
    for i in range(n):
        rng = random.Random(f"mslab-corpus:{seed}:msg:{i}")
        fi = assignment[i]
        name, role, _ = folders[fi]
        t = rng.randint(T_START, T_END)
        zone = pick_weighted(rng, ZONES)
        msgid = None if i in no_msgid else f"{seed}.{i}.{rng.getrandbits(40):010x}@mslab.example.co.jp"
        msgids[i] = msgid
        for donor, taker in shared:
            if i == taker:
                msgid = msgids[donor]
        data = build_message(rng, kinds[i], user, role, msgid, t, zone)
        msgs.append(Msg(i, name, data, make_flags(rng, role),
                        U.epoch_to_internaldate(t, zone), kinds[i], msgid))
        if i == dup_index:
            m = msgs[-1]
            msgs.append(Msg(i, m.folder, m.data, m.flags, m.date, m.kind + "+dup", m.msgid))
    if big_mb > 0:
        rng = random.Random(f"mslab-corpus:{seed}:big")
        t = rng.randint(T_START, T_END)
        name, role, _ = folders[0]
        headers = make_headers(rng, "utf8", user, role, f"{seed}.big@mslab.example.co.jp", t, 540)
        text = part([b"Content-Type: text/plain; charset=UTF-8", b"Content-Transfer-Encoding: 8bit"],
                    crlf_lines([f"{big_mb} MiB のデータを添付します。".encode(), b"Big attachment follows."]))
        att = attachment_part("大きなファイル.bin", rng.randbytes(big_mb * 1024 * 1024),
                              "application/octet-stream", True)
        ch, body = multipart(b"mixed", rng, [text, att])
        data = crlf_lines(headers + ch) + CRLF + body
        msgs.append(Msg(n, name, data, ("\\Seen",), U.epoch_to_internaldate(t, 540), "big",
                        f"{seed}.big@mslab.example.co.jp"))
    return msgs


# ------------------------------------------------------------------ appending

BATCH_MESSAGES = 100       # messages per MULTIAPPEND command
BATCH_BYTES = 4 << 20      # bytes per MULTIAPPEND command
ALONE_BYTES = 1 << 20      # bigger messages go in an APPEND of their own
WINDOW = 4                 # commands in flight per connection


def append_item(m, literal_plus):
    """One message of an APPEND command: flags, date and the literal (bytes)."""
    flags = b"(" + " ".join(m.flags).encode() + b")"
    size = len(m.data)
    return (flags + b' "' + m.date.encode() + b'" '
            + (b"{%d+}" % size if literal_plus else b"{%d}" % size))


def batches(msgs, multiappend):
    """Split one folder's messages into APPEND commands, keeping their order."""
    cur, cur_bytes = [], 0
    for m in msgs:
        alone = not multiappend or len(m.data) > ALONE_BYTES
        if cur and (alone or len(cur) >= BATCH_MESSAGES or cur_bytes + len(m.data) > BATCH_BYTES):
            yield cur
            cur, cur_bytes = [], 0
        cur.append(m)
        cur_bytes += len(m.data)
        if alone:
            yield cur
            cur, cur_bytes = [], 0
    if cur:
        yield cur


class Appender:
    """Pipelined (MULTI)APPENDs on one Session.  A failed MULTIAPPEND stored nothing (it is
    atomic), so its messages are retried one by one to name the failing ones."""

    def __init__(self, session, errors, lock):
        self.s = session
        self.errors = errors
        self.lock = lock
        self.literal_plus = "LITERAL+" in session.capabilities
        self.multiappend = "MULTIAPPEND" in session.capabilities
        self.pending = []  # (tag, folder, batch)
        self.stored = 0

    def send(self, folder, batch):
        s = self.s
        tag = s.next_tag()
        head = tag + b" APPEND " + U.folder_arg(folder)
        if self.literal_plus:
            out = [head]
            for m in batch:
                out.append(b" " + append_item(m, True) + CRLF + m.data)
            out.append(CRLF)
            s.send(b"".join(out))
            self.pending.append((tag, folder, batch))
            while len(self.pending) >= WINDOW:
                self.finish_one()
            return
        # Synchronising literals: wait for "+" before each message; no pipelining.
        self.drain()
        s.send(head)
        for m in batch:
            s.send(b" " + append_item(m, False) + CRLF)
            r = s.read_response()
            if r.tag != b"+":
                self.check(tag, folder, batch, r)
                return
            s.send(m.data)
        s.send(CRLF)
        self.check(tag, folder, batch, s.wait(tag))

    def finish_one(self):
        tag, folder, batch = self.pending.pop(0)
        self.check(tag, folder, batch, self.s.wait(tag))

    def drain(self):
        while self.pending:
            self.finish_one()

    def check(self, tag, folder, batch, r):
        if r.status == b"OK":
            self.stored += len(batch)
            return
        if len(batch) > 1:
            self.drain()
            for m in batch:
                self.send(folder, [m])
            self.drain()
            return
        m = batch[0]
        with self.lock:
            self.errors.append(f"APPEND to {folder} (message {m.index}, {len(m.data)} bytes) "
                               f"failed: {r.status.decode()} {r.text.decode(errors='replace')}")


def fill_worker(args, password, jobs, results, errors, lock):
    """One connection: the APPENDs of its folders (created beforehand), pipelined."""
    try:
        imap = U.connect(args.host, args.port, args.mode, args.cafile, args.user, password,
                         master=args.master)
        s = U.Session(imap)
        ap = Appender(s, errors, lock)
        if args.no_multiappend:
            ap.multiappend = False
        for folder, msgs in jobs:
            for batch in batches(msgs, ap.multiappend):
                ap.send(folder, batch)
        ap.drain()
        with lock:
            for folder, msgs in jobs:
                results[folder] = results.get(folder, 0) + len(msgs)
        s.logout()
    except Exception as e:  # one worker failing must be reported, not hang the others
        with lock:
            errors.append(f"connection for {[f for f, _ in jobs]}: {type(e).__name__}: {e}")


def resolve_folders(args, session):
    """[(server name, role, weight)]: explicit names, or the default set in the server's
    personal namespace."""
    if args.folder_list:
        out = []
        for name in args.folder_list:
            last = name.replace("/", ".").split(".")[-1]
            role = "inbox" if name.upper() == "INBOX" else folder_role((last,))
            out.append((name, role, 10))
        return out
    ns = session.namespace()
    prefix, sep = (ns[0][0], ns[0][1]) if ns else ("", None)
    if sep is None:
        listed = U.list_folders(session, b"INBOX")
        sep = listed[0].sep if listed and listed[0].sep else "/"
    out = []
    for parts, w in zip(DEFAULT_FOLDERS, DEFAULT_WEIGHTS):
        if not parts:
            out.append(("INBOX", "inbox", w))
            continue
        for p in parts:
            if sep in p:
                raise SystemExit(f"folder part {p!r} contains the server's separator {sep!r}")
        out.append((prefix + sep.join(parts), folder_role(parts), w))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    U.add_connection_args(ap)
    ap.add_argument("--messages", type=int, default=300, help="number of messages (default 300)")
    ap.add_argument("--big-mb", type=int, default=0, help="add one message with an M MiB attachment")
    ap.add_argument("--seed", default="1", help="corpus seed (any string; default 1)")
    ap.add_argument("--folders", help="comma-separated full folder names (UTF-8) instead of the default set")
    ap.add_argument("--folder", action="append", default=[], help="one folder name (repeatable)")
    ap.add_argument("--connections", type=int, default=6, help="parallel connections (default 6)")
    ap.add_argument("--no-multiappend", action="store_true",
                    help="one APPEND per message even if the server has MULTIAPPEND")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = ap.parse_args()
    if args.messages < 0 or args.big_mb < 0 or args.connections < 1:
        ap.error("--messages and --big-mb must be >= 0, --connections >= 1")
    args.folder_list = ([f for f in args.folders.split(",") if f] if args.folders else []) + args.folder

    password = U.read_password_file(args.password_file)
    t0 = time.time()
    imap = U.connect(args.host, args.port, args.mode, args.cafile, args.user, password,
                     master=args.master)
    s = U.Session(imap)
    folders = resolve_folders(args, s)
    s.logout()

    msgs = generate(args.seed, args.messages, args.big_mb, folders, args.user)
    t_gen = time.time()

    by_folder = defaultdict(list)
    for m in msgs:
        by_folder[m.folder].append(m)
    # Balance folders over connections by bytes + per-message cost; biggest first.
    cost = {f: sum(len(m.data) for m in ms) / 200000 + len(ms) for f, ms in by_folder.items()}
    nconn = min(args.connections, len(by_folder)) or 1
    groups = [[] for _ in range(nconn)]
    load = [0.0] * nconn
    # Parents are created before children: keep folder order within a group, and create
    # the whole list in order on one connection first.
    for f in sorted(by_folder, key=lambda f: -cost[f]):
        k = load.index(min(load))
        groups[k].append(f)
        load[k] += cost[f]
    order = [f[0] for f in folders]
    imap = U.connect(args.host, args.port, args.mode, args.cafile, args.user, password,
                     master=args.master)
    s = U.Session(imap)
    for name in order:
        if name.upper() != "INBOX":
            r, _ = s.run(b"CREATE " + U.folder_arg(name), ok=False)
            if r.status != b"OK" and b"ALREADYEXISTS" not in r.text.upper():
                print(f"corpus: CREATE {name} failed: {r.text.decode(errors='replace')}",
                      file=sys.stderr)
                return 1
        s.run(b"SUBSCRIBE " + U.folder_arg(name), ok=False)
    s.logout()

    results, errors, lock = {}, [], threading.Lock()
    threads = []
    for g in groups:
        jobs = [(f, by_folder[f]) for f in sorted(g, key=order.index)]
        th = threading.Thread(target=fill_worker, args=(args, password, jobs, results, errors, lock))
        th.start()
        threads.append(th)
    for th in threads:
        th.join()
    t_end = time.time()

    total_bytes = sum(len(m.data) for m in msgs)
    summary = {
        "user": args.user, "seed": args.seed, "messages": len(msgs),
        "bytes": total_bytes,
        "folders": {f: len(by_folder.get(f, [])) for f in order},
        "kinds": dict(Counter(m.kind for m in msgs)),
        "without_message_id": sum(1 for m in msgs if m.msgid is None),
        "flags": dict(Counter(f for m in msgs for f in m.flags)),
        "generate_seconds": round(t_gen - t0, 3),
        "append_seconds": round(t_end - t_gen, 3),
        "total_seconds": round(t_end - t0, 3),
        "connections": nconn,
        "errors": errors,
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=1))
    else:
        print(f"corpus: {len(msgs)} messages, {total_bytes / 1e6:.1f} MB into {args.user} "
              f"({len(order)} folders, {nconn} connections) in {t_end - t0:.2f}s "
              f"(generate {t_gen - t0:.2f}s, append {t_end - t_gen:.2f}s)")
        for f in order:
            print(f"  {len(by_folder.get(f, [])):6d}  {f}")
        print("  kinds: " + ", ".join(f"{k}={v}" for k, v in sorted(summary["kinds"].items()))
              + f"; without Message-ID: {summary['without_message_id']}")
        print("  flags: " + ", ".join(f"{k}={v}" for k, v in sorted(summary["flags"].items())))
        for e in errors:
            print("  ERROR " + e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends us quietly, like other tools
    try:
        sys.exit(main())
    except (U.ImapError, imaplib.IMAP4.error, ssl.SSLError, OSError, ValueError) as e:
        print(f"corpus: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(2)
