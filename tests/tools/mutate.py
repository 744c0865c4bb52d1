#!/usr/bin/env python3
"""mutate.py - change an IMAP account behind mailshift's back, the way users, servers and
mail delivery do, so that the differential-sync tests can check what mailshift makes of it.

Usage (connection options as digest.py: --host --port --mode --cafile --user --password-file
[--master]; every subcommand takes --json for a machine-readable report on stdout):
  mutate.py add           --folder F --count N [--seed S]
  mutate.py flags         --count N [--seed S] [--op toggle|add|remove]
                          [--folder F ...] [--exclude-folder F ...]
  mutate.py expunge       --count N [--seed S] [--folder F ...] [--exclude-folder F ...]
  mutate.py create        --folder F [--count N] [--seed S]
  mutate.py rename        --from A --to B
  mutate.py delete-folder --folder F
  mutate.py recreate      --folder F [--shuffle] [--seed S]
  mutate.py delete-one    --folder F (--uid U | --nth K)
  mutate.py dual-deliver  --old-port P --new-port P --count N --style relay|bcc
                          [--folder INBOX] [--seed S] [--mark-read-on-old]
                          [--without-message-id PCT]
  mutate.py list          --folder F            (read-only: every message, with hashes)
  mutate.py folders                             (read-only: LIST + LSUB)
  mutate.py count                               (read-only: messages per folder, and
                                                 UIDs used: sum of UIDNEXT-1)

Contract:
  - Folder names are UTF-8 with the server's separator, as corpus.py and digest.py print them
    (old: "INBOX.取引先.2024", new: "取引先/2024").
  - Random choices come from random.Random seeded with (subcommand, --seed) and walk folders
    in name order and messages in UID order, so the same seed on the same mailbox state picks
    the same messages.  "Across folders" means every selectable folder, or the --folder ones,
    minus the --exclude-folder ones.
  - add/create: messages from corpus.py's generator (same realism: ISO-2022-JP, UTF-8,
    multipart, no Message-ID, a shared Message-ID pair and an identical duplicate once N >= 20)
    with Message-IDs that contain the seed, so different seeds never collide with each other
    or with corpus.py's own.
  - flags: per chosen message one or two flags out of \\Seen \\Flagged $Forwarded Project_X
    todo ClientACME Reviewed $Label1 are toggled (added if absent, removed if present), so
    every chosen message really changes.  --op add / --op remove only add absent / only
    remove present ones (and choose among messages where that is possible), for tests that
    need removals to happen whatever the seed.  \\Deleted and \\Draft are never touched.
  - expunge / delete-one: UID STORE +FLAGS.SILENT (\\Deleted) then UID EXPUNGE of exactly those
    UIDs (UIDPLUS), so messages that already carry \\Deleted stay.  The report names each
    expunged message (folder, uid, Message-ID, subject, sha256 of the bytes, flags, date).
  - create: CREATE + SUBSCRIBE (an existing folder is an error), then --count messages.
  - rename: RENAME A B (the server renames A's inferiors too); subscriptions of A and its
    inferiors are moved to the new names (Dovecot does not do that by itself).
  - delete-folder: DELETE F's inferiors (deepest first), then F; UNSUBSCRIBE each.
  - recreate: fetch every message of F (bytes, flags, INTERNALDATE), DELETE F, CREATE F,
    re-SUBSCRIBE if it was, APPEND them all back (original UID order, or shuffled with
    --shuffle) with the same flags and dates.  Fails (exit 1) if the UIDVALIDITY did not
    change or the folder does not hold the same messages afterwards.  F must have no
    inferiors and must not be INBOX.
  - dual-deliver: N messages delivered to both servers' --folder the way a relay
    (--style relay: one X-Mailshift-Trace header, the same in both copies) or a Postfix bcc
    (--style bcc: the same Message-ID, no trace header) does; --without-message-id PCT leaves
    the Message-ID out of that share (default relay 10%, bcc 0%: then only the body and
    Date/From/Subject identify a bcc copy, as when Postfix relays a remote message that had none);
    each copy gets its own Return-Path/Delivered-To/Received lines, so the copies differ in
    bytes and size but have the same body (everything after the header block); new's
    INTERNALDATE is 1-30 s later than old's.  Both copies are appended without flags;
    --mark-read-on-old then sets \\Seen on old's copies only.  Same user and password on both
    servers.  The report gives, per message, trace, Message-ID, subject, both UIDs and the
    sha256 of both copies and of the body.
  - Exit status: 0 done, 1 a check of the operation failed, 2 connection/IMAP/usage error.
"""

import argparse
import email
import email.errors
import email.header
import email.policy
import hashlib
import imaplib
import json
import random
import re
import signal
import ssl
import sys

import corpus
import imaputil as U

CRLF = b"\r\n"
FLAG_POOL = ["\\Seen", "\\Flagged", "$Forwarded", "Project_X", "todo", "ClientACME",
             "Reviewed", "$Label1"]
HDR_ITEM = b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID SUBJECT DATE FROM X-MAILSHIFT-TRACE)]"
FETCH_BATCH = 200


class CheckFailed(Exception):
    """The operation ran but its result is not what it should be (exit 1)."""


# ------------------------------------------------------------------ connection


def add_conn_args(p, port_required=True):
    p.add_argument("--host", default="127.0.0.1")
    if port_required:
        p.add_argument("--port", type=int, required=True)
    p.add_argument("--mode", choices=U.MODES, default="imaps")
    p.add_argument("--cafile", help="PEM file of the CA that signed the server certificate")
    p.add_argument("--user", required=True)
    p.add_argument("--password-file", required=True)
    p.add_argument("--master", help="log in as --user with this master user's password")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def session(args, port=None):
    pw = U.read_password_file(args.password_file)
    imap = U.connect(args.host, port if port is not None else args.port, args.mode,
                     args.cafile, args.user, pw, master=args.master)
    return U.Session(imap)


def require(s, *caps):
    for c in caps:
        if c not in s.capabilities:
            raise U.ImapError(f"the server lacks {c}, which mutate.py needs")


# ------------------------------------------------------------------ folders and messages


def selectable(s):
    return sorted((f for f in U.list_folders(s)
                   if "\\noselect" not in f.attrs and "\\nonexistent" not in f.attrs),
                  key=lambda f: f.name)


def find_folder(s, name):
    for f in U.list_folders(s):
        if f.name == name:
            return f
    raise U.ImapError(f"no folder {name!r} on {s.imap.host}:{s.imap.port}")


def open_folder(s, name, readonly=False):
    """SELECT/EXAMINE; returns {"exists", "uidvalidity", "uidnext"}."""
    _, untagged = s.run((b"EXAMINE " if readonly else b"SELECT ") + U.folder_arg(name))
    info = {"exists": 0, "uidvalidity": None, "uidnext": None}
    for r in untagged:
        if r.status == b"OK":
            m = re.match(rb"\[(UIDVALIDITY|UIDNEXT) (\d+)\]", r.text)
            if m:
                info[m.group(1).decode().lower()] = int(m.group(2))
        elif r.tokens and len(r.tokens) >= 2 and isinstance(r.tokens[1], bytes) \
                and r.tokens[1].upper() == b"EXISTS":
            info["exists"] = int(r.tokens[0])
    return info


def uid_set(uids):
    out = []
    uids = sorted(uids)
    start = prev = uids[0]
    for u in uids[1:]:
        if u == prev + 1:
            prev = u
            continue
        out.append(f"{start}:{prev}" if start != prev else str(start))
        start = prev = u
    out.append(f"{start}:{prev}" if start != prev else str(start))
    return ",".join(out).encode()


def expand_uid_set(text):
    out = []
    for part in text.split(","):
        if ":" in part:
            a, b = (int(x) for x in part.split(":"))
            out.extend(range(min(a, b), max(a, b) + 1))
        else:
            out.append(int(part))
    return out


def norm_flags(tokens):
    out = set()
    for t in tokens:
        f = bytes(t).decode("utf-8", errors="replace")
        for sf in ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft", "\\Recent"):
            if f.lower() == sf.lower():
                f = sf
        if f != "\\Recent":
            out.add(f)
    return sorted(out)


def header_info(raw):
    """Message-ID, trace, subject (decoded), date, from of a header block."""
    msg = email.message_from_bytes(bytes(raw or b""), policy=email.policy.compat32)

    def get(name):
        v = msg.get(name)
        if v is None:
            return None
        return re.sub(r"\s+", " ", str(v)).strip() or None

    mid = get("Message-ID")
    if mid:
        m = re.search(r"<[^>]*>", mid)
        mid = m.group(0) if m else mid
    subj = get("Subject")
    if subj is not None:
        try:
            subj = str(email.header.make_header(email.header.decode_header(subj)))
        except (UnicodeError, LookupError, email.errors.HeaderParseError):
            pass
    return {"message_id": mid, "trace": get("X-Mailshift-Trace"), "subject": subj,
            "date_header": get("Date"), "from": get("From")}


def body_of(data):
    i = data.find(b"\r\n\r\n")
    if i >= 0:
        return data[i + 4:]
    i = data.find(b"\n\n")
    return data[i + 2:] if i >= 0 else b""


def fetch(s, uids, body=False, headers=True):
    """UID FETCH of the given UIDs (pipelined batches) in the selected folder ->
    {uid: {"flags", "date", "internaldate", "size", [header info], ["data"]}}."""
    if not uids:
        return {}
    items = b"UID FLAGS INTERNALDATE RFC822.SIZE"
    if headers:
        items += b" " + HDR_ITEM
    if body:
        items += b" BODY.PEEK[]"
    uids = sorted(uids)
    tags = [s.start(b"UID FETCH " + uid_set(uids[i:i + FETCH_BATCH]) + b" (" + items + b")")
            for i in range(0, len(uids), FETCH_BATCH)]
    out = {}
    for tag in tags:
        untagged = []
        r = s.wait(tag, untagged)
        if r.status != b"OK":
            raise U.ImapError(f"UID FETCH failed: {r.status.decode()} "
                              f"{r.text.decode(errors='replace')}")
        for x in untagged:
            if not x.tokens or len(x.tokens) < 3 or not isinstance(x.tokens[1], bytes) \
                    or x.tokens[1].upper() != b"FETCH":
                continue
            _, d = U.fetch_items(x.tokens)
            if b"UID" not in d:
                continue
            uid = int(d[b"UID"])
            e = out.setdefault(uid, {"uid": uid})
            if b"FLAGS" in d:
                e["flags"] = norm_flags(d[b"FLAGS"])
            if b"INTERNALDATE" in d:
                e["internaldate"] = bytes(d[b"INTERNALDATE"]).decode()
                e["date"] = U.internaldate_to_epoch(d[b"INTERNALDATE"])
            if b"RFC822.SIZE" in d:
                e["size"] = int(d[b"RFC822.SIZE"])
            for k, v in d.items():
                if k.startswith(b"BODY[HEADER.FIELDS"):
                    e.update(header_info(v))
            if b"BODY[]" in d:
                data = bytes(d[b"BODY[]"] or b"")
                e["data"] = data
                e["sha256"] = hashlib.sha256(data).hexdigest()
                e["body_sha256"] = hashlib.sha256(body_of(data)).hexdigest()
    missing = [u for u in uids if u not in out]
    if missing:
        raise U.ImapError(f"UID FETCH returned nothing for UIDs {missing[:10]}")
    return out


def all_uids(s):
    _, untagged = s.run(b"UID SEARCH ALL")
    uids = []
    for r in untagged:
        if r.tokens and r.tokens[0].upper() == b"SEARCH":
            uids.extend(int(t) for t in r.tokens[1:])
    return sorted(uids)


def public(e):
    """A message record without its bytes (for reports)."""
    return {k: v for k, v in e.items() if k != "data"}


def pick_folders(s, args):
    folders = [f.name for f in selectable(s)]
    if args.folder:
        unknown = [f for f in args.folder if f not in folders]
        if unknown:
            raise U.ImapError(f"no such folder(s): {', '.join(unknown)}")
        folders = [f for f in folders if f in args.folder]
    return [f for f in folders if f not in (args.exclude_folder or [])]


def random_messages(s, args, what, want=None):
    """(rng, {folder: [uid...]}) for --count messages chosen at random across folders;
    want(flags) -> bool, if given, restricts the choice to messages whose flags it accepts."""
    rng = random.Random(f"mutate:{what}:{args.seed}")
    pool = []
    for name in pick_folders(s, args):
        info = open_folder(s, name, readonly=True)
        if not info["exists"]:
            continue
        if want is None:
            pool.extend((name, u) for u in all_uids(s))
        else:
            recs = fetch(s, all_uids(s), headers=False)
            pool.extend((name, u) for u in sorted(recs) if want(recs[u]["flags"]))
    if args.count > len(pool):
        raise U.ImapError(f"asked for {args.count} messages but only {len(pool)} qualify")
    chosen = rng.sample(pool, args.count)
    by_folder = {}
    for name, u in sorted(chosen):
        by_folder.setdefault(name, []).append(u)
    return rng, by_folder


# ------------------------------------------------------------------ appending


def append_many(s, folder, items, batch=50, batch_bytes=4 << 20, window=4):
    """APPEND items [(bytes, flags, internaldate str)] to folder in order (MULTIAPPEND batches,
    LITERAL+ pipelining).  Returns the new UIDs in the same order (APPENDUID)."""
    require(s, "UIDPLUS")
    lp = "LITERAL+" in s.capabilities
    multi = "MULTIAPPEND" in s.capabilities
    groups, cur, cur_bytes = [], [], 0
    for it in items:
        if cur and (not multi or len(cur) >= batch or cur_bytes + len(it[0]) > batch_bytes):
            groups.append(cur)
            cur, cur_bytes = [], 0
        cur.append(it)
        cur_bytes += len(it[0])
    if cur:
        groups.append(cur)
    uids = []
    pending = []

    def finish():
        tag, g = pending.pop(0)
        r = s.wait(tag)
        if r.status != b"OK":
            raise U.ImapError(f"APPEND to {folder} failed: {r.status.decode()} "
                              f"{r.text.decode(errors='replace')}")
        m = re.search(rb"\[APPENDUID \d+ ([\d:,]+)\]", r.text)
        if not m:
            raise U.ImapError(f"APPEND to {folder}: no APPENDUID in {r.text!r}")
        got = expand_uid_set(m.group(1).decode())
        if len(got) != len(g):
            raise U.ImapError(f"APPEND to {folder}: {len(g)} messages, APPENDUID {got}")
        uids.extend(got)

    for g in groups:
        tag = s.next_tag()
        head = tag + b" APPEND " + U.folder_arg(folder)
        if lp:
            out = [head]
            for data, flags, date in g:
                fl = " ".join(f for f in flags if f != "\\Recent").encode()
                out.append(b" (" + fl + b') "' + date.encode() + b'" {%d+}' % len(data)
                           + CRLF + data)
            out.append(CRLF)
            s.send(b"".join(out))
            pending.append((tag, g))
            while len(pending) >= window:
                finish()
            continue
        while pending:
            finish()
        s.send(head)
        for data, flags, date in g:
            fl = " ".join(f for f in flags if f != "\\Recent").encode()
            s.send(b" (" + fl + b') "' + date.encode() + b'" {%d}' % len(data) + CRLF)
            r = s.read_response()
            if r.tag != b"+":
                raise U.ImapError(f"APPEND to {folder} refused: {r.text!r}")
            s.send(data)
        s.send(CRLF)
        pending.append((tag, g))
        finish()
    while pending:
        finish()
    return uids


def generated(args, folder, count, seed):
    """count corpus.py messages for folder (role from its last name part)."""
    last = re.split(r"[./]", folder)[-1]
    role = "inbox" if folder.upper() == "INBOX" else corpus.folder_role((last,))
    # Exactly count messages (the generator's identical duplicate may be among them).
    return corpus.generate(f"mutate-{seed}", count, 0, [(folder, role, 10)], args.user)[:count]


def ensure_created(s, folder, exist_ok):
    r, _ = s.run(b"CREATE " + U.folder_arg(folder), ok=False)
    if r.status != b"OK":
        if not (exist_ok and b"ALREADYEXISTS" in r.text.upper()):
            raise U.ImapError(f"CREATE {folder} failed: {r.text.decode(errors='replace')}")
    s.run(b"SUBSCRIBE " + U.folder_arg(folder))


# ------------------------------------------------------------------ subcommands


def cmd_add(args):
    s = session(args)
    find_folder(s, args.folder)
    msgs = generated(args, args.folder, args.count, args.seed)
    uids = append_many(s, args.folder, [(m.data, m.flags, m.date) for m in msgs])
    s.logout()
    return {"op": "add", "folder": args.folder, "count": len(msgs), "uids": uids,
            "message_ids": [m.msgid for m in msgs]}


def cmd_create(args):
    s = session(args)
    ensure_created(s, args.folder, exist_ok=False)
    uids, mids = [], []
    if args.count:
        msgs = generated(args, args.folder, args.count, args.seed)
        uids = append_many(s, args.folder, [(m.data, m.flags, m.date) for m in msgs])
        mids = [m.msgid for m in msgs]
    info = open_folder(s, args.folder, readonly=True)
    s.logout()
    if info["exists"] != len(uids):
        raise CheckFailed(f"{args.folder} holds {info['exists']} messages after create, "
                          f"expected {len(uids)}")
    return {"op": "create", "folder": args.folder, "count": len(uids), "uids": uids,
            "message_ids": mids, "uidvalidity": info["uidvalidity"]}


def cmd_flags(args):
    s = session(args)
    want = {"toggle": None,
            "add": lambda fl: any(f not in fl for f in FLAG_POOL),
            "remove": lambda fl: any(f in fl for f in FLAG_POOL)}[args.op]
    rng, by_folder = random_messages(s, args, f"flags-{args.op}", want)
    changes = []
    for name, uids in by_folder.items():
        open_folder(s, name)
        before = fetch(s, uids)
        tags = []
        plan = {}
        for u in uids:
            cur = set(before[u]["flags"])
            if args.op == "toggle":
                cand = FLAG_POOL
            elif args.op == "add":
                cand = [f for f in FLAG_POOL if f not in cur]
            else:
                cand = [f for f in FLAG_POOL if f in cur]
            picked = rng.sample(cand, min(len(cand), rng.choice((1, 1, 2))))
            add = [f for f in picked if f not in cur]
            rem = [f for f in picked if f in cur]
            plan[u] = (add, rem)
            if add:
                tags.append(s.start(b"UID STORE %d +FLAGS.SILENT (%s)" % (u, " ".join(add).encode())))
            if rem:
                tags.append(s.start(b"UID STORE %d -FLAGS.SILENT (%s)" % (u, " ".join(rem).encode())))
        for t in tags:
            r = s.wait(t)
            if r.status != b"OK":
                raise U.ImapError(f"STORE in {name} failed: {r.text.decode(errors='replace')}")
        after = fetch(s, uids, headers=True)
        for u in uids:
            add, rem = plan[u]
            want = sorted((set(before[u]["flags"]) | set(add)) - set(rem))
            if after[u]["flags"] != want:
                raise CheckFailed(f"{name} UID {u}: flags {after[u]['flags']} after STORE, "
                                  f"expected {want}")
            changes.append({"folder": name, "uid": u, "before": before[u]["flags"],
                            "after": after[u]["flags"], "added": add, "removed": rem,
                            "message_id": after[u]["message_id"],
                            "subject": after[u]["subject"]})
    s.logout()
    return {"op": "flags", "count": len(changes), "changes": changes}


def expunge_uids(s, name, uids):
    """Expunge exactly these UIDs of the selected folder; returns their records."""
    require(s, "UIDPLUS")
    recs = fetch(s, uids, body=True)
    before = open_folder(s, name)["exists"]
    s.run(b"UID STORE " + uid_set(uids) + b" +FLAGS.SILENT (\\Deleted)")
    _, untagged = s.run(b"UID EXPUNGE " + uid_set(uids))
    gone = sum(1 for r in untagged if r.tokens and len(r.tokens) >= 2
               and isinstance(r.tokens[1], bytes) and r.tokens[1].upper() == b"EXPUNGE")
    after = open_folder(s, name)["exists"]
    left = set(all_uids(s)) & set(uids)
    if gone != len(uids) or after != before - len(uids) or left:
        raise CheckFailed(f"{name}: expunged {gone} of {len(uids)} (EXISTS {before} -> {after}, "
                          f"still there: {sorted(left)[:5]})")
    return [dict(public(recs[u]), folder=name) for u in sorted(uids)]


def cmd_expunge(args):
    s = session(args)
    _, by_folder = random_messages(s, args, "expunge")
    out = []
    for name, uids in by_folder.items():
        open_folder(s, name)
        out.extend(expunge_uids(s, name, uids))
    s.logout()
    return {"op": "expunge", "count": len(out), "messages": out}


def cmd_delete_one(args):
    s = session(args)
    info = open_folder(s, args.folder)
    uids = all_uids(s)
    if args.uid is not None:
        if args.uid not in uids:
            raise U.ImapError(f"{args.folder} has no UID {args.uid}")
        uid = args.uid
    else:
        if not 1 <= abs(args.nth) <= len(uids):
            raise U.ImapError(f"{args.folder} has {len(uids)} messages; no --nth {args.nth}")
        uid = uids[args.nth - 1] if args.nth > 0 else uids[args.nth]
    rec = expunge_uids(s, args.folder, [uid])[0]
    s.logout()
    return {"op": "delete-one", "folder": args.folder, "uidvalidity": info["uidvalidity"],
            "message": rec}


def subtree(s, name):
    """name's folder and its inferiors as listed, deepest first."""
    folders = U.list_folders(s)
    me = [f for f in folders if f.name == name]
    if not me:
        raise U.ImapError(f"no folder {name!r}")
    sep = me[0].sep
    kids = [f for f in folders if sep and f.name.startswith(name + sep)]
    return sorted(kids, key=lambda f: -f.name.count(sep)) + me, sep


def cmd_rename(args):
    s = session(args)
    subs = {f.name for f in U.list_folders(s, subscribed=True)}
    tree, sep = subtree(s, args.from_)
    statuses = {}
    for f in tree:
        if "\\noselect" not in f.attrs and "\\nonexistent" not in f.attrs:
            _, u = s.run(b"STATUS " + U.imap_quote(f.raw) + b" (MESSAGES UIDVALIDITY)")
            statuses[f.name] = u[0].tokens[2]
    s.run(b"RENAME " + U.folder_arg(args.from_) + b" " + U.folder_arg(args.to))
    renamed = []
    for f in tree:
        new = args.to + f.name[len(args.from_):]
        if f.name in subs:
            s.run(b"UNSUBSCRIBE " + U.folder_arg(f.name))
            s.run(b"SUBSCRIBE " + U.folder_arg(new))
        renamed.append({"from": f.name, "to": new, "subscribed": f.name in subs})
    names = {f.name for f in U.list_folders(s)}
    for r in renamed:
        if r["from"] in names or r["to"] not in names:
            raise CheckFailed(f"after RENAME: {r['from']!r} listed={r['from'] in names}, "
                              f"{r['to']!r} listed={r['to'] in names}")
        if r["from"] in statuses:
            _, u = s.run(b"STATUS " + U.folder_arg(r["to"]) + b" (MESSAGES UIDVALIDITY)")
            a, b = statuses[r["from"]], u[0].tokens[2]
            r["messages"] = int(b[b.index(b"MESSAGES") + 1])
            r["uidvalidity_before"] = int(a[a.index(b"UIDVALIDITY") + 1])
            r["uidvalidity_after"] = int(b[b.index(b"UIDVALIDITY") + 1])
            if int(a[a.index(b"MESSAGES") + 1]) != r["messages"]:
                raise CheckFailed(f"{r['to']}: message count changed by RENAME")
    s.logout()
    return {"op": "rename", "from": args.from_, "to": args.to, "folders": renamed}


def cmd_delete_folder(args):
    s = session(args)
    tree, _ = subtree(s, args.folder)
    deleted = []
    for f in tree:
        r, _ = s.run(b"DELETE " + U.imap_quote(f.raw), ok=False)
        if r.status != b"OK":
            raise U.ImapError(f"DELETE {f.name} failed: {r.text.decode(errors='replace')}")
        s.run(b"UNSUBSCRIBE " + U.imap_quote(f.raw), ok=False)
        deleted.append(f.name)
    left = [f.name for f in U.list_folders(s) if f.name in deleted]
    s.logout()
    if left:
        raise CheckFailed(f"still listed after DELETE: {left}")
    return {"op": "delete-folder", "deleted": deleted}


def cmd_recreate(args):
    s = session(args)
    if args.folder.upper() == "INBOX":
        raise U.ImapError("INBOX cannot be deleted; recreate another folder")
    tree, _ = subtree(s, args.folder)
    if len(tree) > 1:
        raise U.ImapError(f"{args.folder} has inferiors ({tree[0].name}, ...); "
                          "recreate works on leaf folders only")
    subscribed = args.folder in {f.name for f in U.list_folders(s, subscribed=True)}
    before = open_folder(s, args.folder, readonly=True)
    uids = all_uids(s)
    recs = fetch(s, uids, body=True, headers=False)
    order = list(uids)
    if args.shuffle:
        random.Random(f"mutate:recreate:{args.seed}").shuffle(order)
    s.run(b"UNSELECT")
    s.run(b"DELETE " + U.folder_arg(args.folder))
    s.run(b"CREATE " + U.folder_arg(args.folder))
    if subscribed:
        s.run(b"SUBSCRIBE " + U.folder_arg(args.folder))
    new_uids = append_many(s, args.folder, [(recs[u]["data"], recs[u]["flags"],
                                             recs[u]["internaldate"]) for u in order])
    after = open_folder(s, args.folder, readonly=True)
    again = fetch(s, all_uids(s), body=True, headers=False)
    s.logout()

    def ms(d):
        return sorted((e["sha256"], tuple(e["flags"]), e["date"]) for e in d.values())

    if after["uidvalidity"] == before["uidvalidity"]:
        raise CheckFailed(f"{args.folder}: UIDVALIDITY unchanged ({after['uidvalidity']})")
    if ms(again) != ms(recs):
        raise CheckFailed(f"{args.folder}: messages differ after recreate "
                          f"({len(recs)} before, {len(again)} after)")
    return {"op": "recreate", "folder": args.folder, "count": len(uids),
            "uidvalidity_before": before["uidvalidity"], "uidvalidity_after": after["uidvalidity"],
            "shuffled": bool(args.shuffle), "subscribed": subscribed,
            "uid_map": {str(o): n for o, n in zip(order, new_uids)}}


# -- dual delivery

def _qid(rng):
    return "".join(rng.choice("0123456789ABCDEF") for _ in range(rng.randint(10, 14)))


def _received(rng, frm, by, when, proto=None):
    proto = proto or rng.choice([b"ESMTPS", b"ESMTP"])
    return (b"Received: from " + frm + b"\r\n\tby " + by + b" with " + proto
            + b" id " + _qid(rng).encode()
            + b"\r\n\tfor <%s>; " % when[1] + when[0].encode())


def dual_messages(args):
    """[(meta, old_bytes, new_bytes, old_date, new_date)] for --count messages."""
    rng_all = random.Random(f"mutate:dual:{args.style}:{args.seed}")
    t0 = 1782864000 + rng_all.randint(0, 86400)  # 2026-07-01, after every corpus date
    rcpt = f"{args.user}@example.co.jp".encode()
    out = []
    for i in range(args.count):
        rng = random.Random(f"mutate:dual:{args.style}:{args.seed}:{i}")
        kind = corpus.pick_weighted(rng, [("ja", 40), ("utf8", 40), ("multi", 15), ("ascii", 5)])
        t = t0 + i * 61 + rng.randint(0, 30)
        zone = 540
        no_mid = rng.random() * 100 < args.without_message_id
        mid = None if no_mid else f"dd.{args.style}.{args.seed}.{i}.{rng.getrandbits(40):010x}@sender.example.com"
        # What the sender's MUA wrote: corpus headers minus the receiving server's lines.
        h = corpus.make_headers(rng, kind, args.user, "inbox", mid, t, zone)[2:]
        if kind == "ja":
            ch, body = corpus.body_ja(rng)
        elif kind == "utf8":
            ch, body = corpus.body_utf8(rng)
        elif kind == "ascii":
            ch, body = corpus.body_ascii(rng)
        else:
            ch, body = corpus.body_multipart(rng, args.user)
        sent = corpus.crlf_lines(h + ch) + CRLF + body
        when = (corpus.rfc5322_date(t, zone), rcpt)
        when_new = (corpus.rfc5322_date(t + rng.randint(1, 30), zone), rcpt)
        sender_mta = b"smtp.sender.example.com (smtp.sender.example.com [203.0.113.%d])" % rng.randint(1, 254)
        rp = b"Return-Path: <sender%d@sender.example.com>\r\n" % i
        dt = b"Delivered-To: " + rcpt + CRLF
        trace = None
        if args.style == "relay":
            trace = f"ms1-{t:x}-{rng.getrandbits(64):016x}"
            relay = (_received(rng, sender_mta, b"mx1.example.co.jp (mailshift relay)", when) + CRLF
                     + b"X-Mailshift-Trace: " + trace.encode() + CRLF)
            old = (rp + dt + _received(rng, b"mx1.example.co.jp (mx1.example.co.jp [192.0.2.10])",
                                       b"mail.old-host.jp (Postfix)", when) + CRLF + relay + sent)
            new = (rp + dt + _received(rng, b"mx1.example.co.jp (mx1.example.co.jp [192.0.2.10])",
                                       b"mx.new-host.example.jp (Dovecot LMTP)", when_new,
                                       b"LMTPS") + CRLF + relay + sent)
        else:  # Postfix recipient_bcc_maps on old's MTA: new's copy passed through old's MTA
            at_old = _received(rng, sender_mta, b"mail.old-host.jp (Postfix)", when) + CRLF
            old = rp + dt + at_old + sent
            new = (rp + dt + _received(rng, b"mail.old-host.jp (mail.old-host.jp [192.0.2.20])",
                                       b"mx.new-host.example.jp (Postfix)", when_new) + CRLF
                   + at_old + sent)
        assert body_of(old) == body_of(new) == body and old != new
        d_old = U.epoch_to_internaldate(t, zone)
        d_new = U.epoch_to_internaldate(t + rng.randint(1, 30), zone)
        meta = {"index": i, "style": args.style, "trace": trace,
                "message_id": f"<{mid}>" if mid else None,
                "subject": header_info(sent.split(CRLF + CRLF)[0])["subject"],
                "old_sha256": hashlib.sha256(old).hexdigest(),
                "new_sha256": hashlib.sha256(new).hexdigest(),
                "body_sha256": hashlib.sha256(body).hexdigest(),
                "old_size": len(old), "new_size": len(new),
                "old_date": U.internaldate_to_epoch(d_old), "new_date": U.internaldate_to_epoch(d_new)}
        out.append((meta, old, new, d_old, d_new))
    return out


def cmd_dual_deliver(args):
    msgs = dual_messages(args)
    so = session(args, args.old_port)
    sn = session(args, args.new_port)
    find_folder(so, args.folder)
    find_folder(sn, args.folder)
    ou = append_many(so, args.folder, [(o, (), do) for _, o, _, do, _ in msgs])
    nu = append_many(sn, args.folder, [(n, (), dn) for _, _, n, _, dn in msgs])
    if args.mark_read_on_old and ou:
        open_folder(so, args.folder)
        so.run(b"UID STORE " + uid_set(ou) + b" +FLAGS.SILENT (\\Seen)")
    # Check what the servers hold now, not what we meant to send.
    open_folder(so, args.folder, readonly=True)
    open_folder(sn, args.folder, readonly=True)
    got_o = fetch(so, ou, body=True)
    got_n = fetch(sn, nu, body=True)
    so.logout()
    sn.logout()
    report = []
    for (meta, *_), uo, un in zip(msgs, ou, nu):
        o, n = got_o[uo], got_n[un]
        want_o = ["\\Seen"] if args.mark_read_on_old else []
        if (o["sha256"] != meta["old_sha256"] or n["sha256"] != meta["new_sha256"]
                or o["body_sha256"] != n["body_sha256"] or o["flags"] != want_o or n["flags"]
                or o["trace"] != meta["trace"] or n["trace"] != meta["trace"]
                or o["message_id"] != meta["message_id"] or n["message_id"] != meta["message_id"]):
            raise CheckFailed(f"dual-delivered message {meta['index']} is not what was sent: "
                              f"old {public(o)} new {public(n)}")
        report.append(dict(meta, old_uid=uo, new_uid=un, old_flags=o["flags"], new_flags=n["flags"]))
    return {"op": "dual-deliver", "style": args.style, "folder": args.folder,
            "count": len(report), "marked_read_on_old": bool(args.mark_read_on_old),
            "messages": report}


# -- read-only helpers

def cmd_list(args):
    s = session(args)
    info = open_folder(s, args.folder, readonly=True)
    recs = fetch(s, all_uids(s), body=True)
    s.logout()
    return {"op": "list", "folder": args.folder, "uidvalidity": info["uidvalidity"],
            "uidnext": info["uidnext"], "count": len(recs),
            "messages": [public(recs[u]) for u in sorted(recs)]}


def cmd_folders(args):
    s = session(args)
    subs = {f.name for f in U.list_folders(s, subscribed=True)}
    out = [{"name": f.name, "sep": f.sep, "attrs": list(f.attrs), "subscribed": f.name in subs,
            "selectable": "\\noselect" not in f.attrs and "\\nonexistent" not in f.attrs}
           for f in sorted(U.list_folders(s), key=lambda f: f.name)]
    names = {f["name"] for f in out}
    s.logout()
    return {"op": "folders", "folders": out,
            "subscribed_only": sorted(subs - names)}  # subscriptions of folders that do not exist


def cmd_setflags(args):
    """Set the exact flags of one message (UID STORE FLAGS), as a killed sync's
    STORE or a user would; reads them back."""
    s = session(args)
    open_folder(s, args.folder)
    flags = args.flags.split()
    s.run(b"UID STORE %d FLAGS.SILENT (%s)" % (args.uid, " ".join(flags).encode()))
    after = fetch(s, [args.uid], headers=False)
    s.logout()
    if args.uid not in after:
        raise CheckFailed(f"{args.folder} has no UID {args.uid}")
    if after[args.uid]["flags"] != sorted(set(flags)):
        raise CheckFailed(f"{args.folder} UID {args.uid}: flags {after[args.uid]['flags']} "
                          f"after STORE, wanted {sorted(set(flags))}")
    return {"op": "setflags", "folder": args.folder, "uid": args.uid, "count": 1,
            "flags": after[args.uid]["flags"]}


def cmd_count(args):
    s = session(args)
    counts = {}
    used = 0
    for f in selectable(s):
        _, u = s.run(b"STATUS " + U.imap_quote(f.raw) + b" (MESSAGES UIDNEXT)")
        st = u[0].tokens[2]
        counts[f.name] = int(st[st.index(b"MESSAGES") + 1])
        used += int(st[st.index(b"UIDNEXT") + 1]) - 1
    s.logout()
    # uids_used: UIDs handed out in the folders that exist now; it grows with every APPEND
    # and never shrinks on EXPUNGE, so it measures copy progress where counts cannot.
    return {"op": "count", "total": sum(counts.values()), "uids_used": used, "folders": counts}


# ------------------------------------------------------------------ main


def human(rep):
    op = rep["op"]
    if op == "count":
        return f"{rep['total']} messages in {len(rep['folders'])} folders"
    if op == "folders":
        return "\n".join(f"{'S' if f['subscribed'] else ' '} {'  ' if f['selectable'] else 'NS'} "
                         f"{f['name']}" for f in rep["folders"])
    if op == "list":
        return "\n".join(f"{m['uid']:6d} {m['sha256'][:12]} {' '.join(m['flags']):30s} "
                         f"{m['message_id']} {m['subject']}" for m in rep["messages"])
    if op == "delete-one":
        m = rep["message"]
        return (f"expunged {rep['folder']} UID {m['uid']}: Message-ID {m['message_id']} "
                f"subject {m['subject']!r} sha256 {m['sha256'][:16]}")
    if op == "rename":
        return "renamed " + ", ".join(f"{r['from']} -> {r['to']}" for r in rep["folders"])
    if op == "delete-folder":
        return "deleted " + ", ".join(rep["deleted"])
    if op == "recreate":
        return (f"recreated {rep['folder']}: {rep['count']} messages, UIDVALIDITY "
                f"{rep['uidvalidity_before']} -> {rep['uidvalidity_after']}")
    return f"{op}: {rep.get('count')} messages" + (f" in {rep['folder']}" if "folder" in rep else "")


def main():
    ap = argparse.ArgumentParser(prog="mutate.py", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("add")
    add_conn_args(p)
    p.add_argument("--folder", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--seed", default="1")
    p.set_defaults(fn=cmd_add)

    for name, fn in (("flags", cmd_flags), ("expunge", cmd_expunge)):
        p = sub.add_parser(name)
        add_conn_args(p)
        p.add_argument("--count", type=int, required=True)
        p.add_argument("--seed", default="1")
        p.add_argument("--folder", action="append", default=[], help="only these folders")
        p.add_argument("--exclude-folder", action="append", default=[])
        if name == "flags":
            p.add_argument("--op", choices=("toggle", "add", "remove"), default="toggle",
                           help="toggle (default), only add, or only remove flags")
        p.set_defaults(fn=fn)

    p = sub.add_parser("create")
    add_conn_args(p)
    p.add_argument("--folder", required=True)
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--seed", default="1")
    p.set_defaults(fn=cmd_create)

    p = sub.add_parser("rename")
    add_conn_args(p)
    p.add_argument("--from", dest="from_", required=True)
    p.add_argument("--to", required=True)
    p.set_defaults(fn=cmd_rename)

    p = sub.add_parser("delete-folder")
    add_conn_args(p)
    p.add_argument("--folder", required=True)
    p.set_defaults(fn=cmd_delete_folder)

    p = sub.add_parser("recreate")
    add_conn_args(p)
    p.add_argument("--folder", required=True)
    p.add_argument("--shuffle", action="store_true", help="append back in a random order")
    p.add_argument("--seed", default="1")
    p.set_defaults(fn=cmd_recreate)

    p = sub.add_parser("delete-one")
    add_conn_args(p)
    p.add_argument("--folder", required=True)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--uid", type=int)
    g.add_argument("--nth", type=int, help="K-th message in UID order (1-based; -1 = last)")
    p.set_defaults(fn=cmd_delete_one)

    p = sub.add_parser("dual-deliver")
    add_conn_args(p, port_required=False)
    p.add_argument("--old-port", type=int, required=True)
    p.add_argument("--new-port", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--style", choices=("relay", "bcc"), required=True)
    p.add_argument("--folder", default="INBOX")
    p.add_argument("--seed", default="1")
    p.add_argument("--mark-read-on-old", action="store_true")
    p.add_argument("--without-message-id", type=float, metavar="PCT",
                   help="percentage of messages without Message-ID (default: relay 10, bcc 0)")
    p.set_defaults(fn=cmd_dual_deliver)

    p = sub.add_parser("setflags")
    add_conn_args(p)
    p.add_argument("--folder", required=True)
    p.add_argument("--uid", type=int, required=True)
    p.add_argument("--flags", required=True, help='e.g. "\\Seen $Junk" ("" for none)')
    p.set_defaults(fn=cmd_setflags)

    for name, fn in (("list", cmd_list), ("folders", cmd_folders), ("count", cmd_count)):
        p = sub.add_parser(name)
        add_conn_args(p)
        if name == "list":
            p.add_argument("--folder", required=True)
        p.set_defaults(fn=fn)

    args = ap.parse_args()
    if args.cmd == "dual-deliver" and args.without_message_id is None:
        args.without_message_id = 10.0 if args.style == "relay" else 0.0
    if isinstance(getattr(args, "count", None), int) and args.count < 0:
        ap.error("--count must be >= 0")
    try:
        rep = args.fn(args)
    except CheckFailed as e:
        print(f"mutate {args.cmd}: CHECK FAILED: {e}", file=sys.stderr)
        return 1
    if args.json:
        json.dump(rep, sys.stdout, ensure_ascii=False, separators=(",", ":"))
        sys.stdout.write("\n")
    else:
        print(human(rep))
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        sys.exit(main())
    except (U.ImapError, imaplib.IMAP4.error, ssl.SSLError, OSError, ValueError) as e:
        print(f"mutate: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(2)
