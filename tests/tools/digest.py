#!/usr/bin/env python3
"""digest.py - what an IMAP account holds, as comparable digests; and compare two of them.

Usage:
  digest.py --port P [--host H] [--mode imaps|starttls|none] [--cafile CA]
            --user U --password-file F [--master M] [--folder NAME ...] [--json]
  digest.py compare OLD.json NEW.json [--map MAP.json] [--strict-extra] [--json]

Contract (digest):
  For every selectable folder (LIST "" "*", minus \\Noselect / \\NonExistent; names decoded
  from modified UTF-7 to UTF-8 text, server separator kept), each message becomes the entry
      [sha256 hex of the full message bytes (BODY.PEEK[]),
       sorted flags without \\Recent (system flags in canonical case, keywords as sent),
       INTERNALDATE as UTC epoch seconds]
  The entries are sorted; the folder digest is the sha256 of the lines
      "<sha> <flag> <flag>...<TAB><epoch>\\n"   (flags joined by single spaces)
  in that order.  Folders are opened with EXAMINE (read-only); nothing is changed.  Bodies are
  fetched in UID batches bounded by count and RFC822.SIZE and hashed one message at a time,
  so 20 MB messages cost 20 MB of memory, not more.
  --json prints {"folders": {name: {"count", "digest", "messages"}}, "account": {...}}.

Contract (compare):
  MAP.json is {"old folder": "new folder" | null, ...}; several old folders may map to one
  new folder (their message multisets are merged); null means "deliberately not migrated".
  Without --map every old folder maps to the same name.  For every new folder that some old
  folder maps to, prints OK or DIFF with counts and the first differences; exit status 0 only
  if all of them are equal as multisets.  Old folders absent from the map are reported as
  UNMAPPED (not a failure); a map entry naming an old folder that OLD.json lacks is an error.
  New folders no old folder maps to are ignored when empty and reported as EXTRA otherwise
  (a failure only with --strict-extra).
"""

import argparse
import hashlib
import imaplib
import json
import signal
import ssl
import sys
from collections import Counter

import imaputil as U

SYSTEM_FLAGS = {f.lower(): f for f in ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted",
                                       "\\Draft", "\\Recent")}
MAX_BATCH_MESSAGES = 500
MAX_BATCH_BYTES = 32 << 20


def norm_flags(tokens):
    out = []
    for t in tokens:
        f = bytes(t).decode("utf-8", errors="replace")
        f = SYSTEM_FLAGS.get(f.lower(), f)
        if f != "\\Recent":
            out.append(f)
    return sorted(set(out))


def word(resp, i):
    """Token i of an untagged data response, upper-cased, if it is an atom; else None."""
    t = resp.tokens
    if t is None or len(t) <= i or not isinstance(t[i], bytes):
        return None
    return bytes(t[i]).upper()


def folder_digest(entries):
    h = hashlib.sha256()
    for sha, flags, date in entries:
        h.update(f"{sha} {' '.join(flags)}\t{date}\n".encode("utf-8"))
    return h.hexdigest()


def uid_set(uids):
    """Compact IMAP sequence set of sorted UIDs."""
    out = []
    start = prev = uids[0]
    for u in uids[1:]:
        if u == prev + 1:
            prev = u
            continue
        out.append(f"{start}:{prev}" if start != prev else str(start))
        start = prev = u
    out.append(f"{start}:{prev}" if start != prev else str(start))
    return ",".join(out).encode()


def digest_folder(s, folder):
    r, untagged = s.run(b"EXAMINE " + U.imap_quote(folder.raw))
    exists = 0
    for x in untagged:
        if word(x, 1) == b"EXISTS":
            exists = int(x.tokens[0])
    meta = {}
    if exists:
        _, untagged = s.run(b"UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE)")
        for x in untagged:
            if word(x, 1) != b"FETCH":
                continue
            _, d = U.fetch_items(x.tokens)
            uid = int(d[b"UID"])
            meta[uid] = {"flags": norm_flags(d[b"FLAGS"]),
                         "date": U.internaldate_to_epoch(d[b"INTERNALDATE"]),
                         "size": int(d[b"RFC822.SIZE"])}
    if len(meta) != exists:
        raise U.ImapError(f"{folder.name}: EXISTS says {exists} but FETCH returned {len(meta)}")
    # Batches of UIDs, all sent at once (pipelined), answers hashed as they stream in.
    uids = sorted(meta)
    batches, cur, cur_bytes = [], [], 0
    for u in uids:
        if cur and (len(cur) >= MAX_BATCH_MESSAGES or cur_bytes + meta[u]["size"] > MAX_BATCH_BYTES):
            batches.append(cur)
            cur, cur_bytes = [], 0
        cur.append(u)
        cur_bytes += meta[u]["size"]
    if cur:
        batches.append(cur)
    tags = [s.start(b"UID FETCH " + uid_set(b) + b" (UID BODY.PEEK[])") for b in batches]
    hashes = {}
    for tag in tags:
        while True:
            x = s.read_response()
            if x.tag == tag:
                if x.status != b"OK":
                    raise U.ImapError(f"{folder.name}: UID FETCH failed: {x.status.decode()} "
                                      f"{x.text.decode(errors='replace')}")
                break
            if word(x, 1) == b"FETCH":
                _, d = U.fetch_items(x.tokens)
                if b"BODY[]" in d and b"UID" in d:
                    body = d[b"BODY[]"]
                    hashes[int(d[b"UID"])] = hashlib.sha256(b"" if body is None else body).hexdigest()
                    # Flags may change while we read (another client): take the newest.
                    if b"FLAGS" in d:
                        meta[int(d[b"UID"])]["flags"] = norm_flags(d[b"FLAGS"])
            elif x.tag == b"*" and x.status == b"BYE":
                raise U.ImapError(f"server closed the connection: {x.text!r}")
    missing = [u for u in uids if u not in hashes]
    if missing:
        raise U.ImapError(f"{folder.name}: no body for UIDs {missing[:10]}")
    entries = sorted([hashes[u], meta[u]["flags"], meta[u]["date"]] for u in uids)
    return {"count": len(entries), "digest": folder_digest(entries), "messages": entries}


def cmd_digest(argv):
    ap = argparse.ArgumentParser(prog="digest.py", description="digest one IMAP account")
    U.add_connection_args(ap)
    ap.add_argument("--folder", action="append", default=[],
                    help="only this folder (UTF-8 name; repeatable)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    imap = U.connect_from_args(args)
    s = U.Session(imap)
    folders = U.list_folders(s)
    result = {"account": {"host": args.host, "port": args.port, "user": args.user,
                          "separator": folders[0].sep if folders else None},
              "folders": {}}
    wanted = set(args.folder)
    for f in sorted(folders, key=lambda f: f.name):
        if "\\noselect" in f.attrs or "\\nonexistent" in f.attrs:
            continue
        if wanted and f.name not in wanted:
            continue
        result["folders"][f.name] = digest_folder(s, f)
    s.logout()
    missing = wanted - set(result["folders"])
    if missing:
        print(f"digest: no such folder(s): {', '.join(sorted(missing))}", file=sys.stderr)
        return 1
    if args.json:
        json.dump(result, sys.stdout, ensure_ascii=False, indent=None, separators=(",", ":"))
        sys.stdout.write("\n")
    else:
        total = 0
        for name, d in result["folders"].items():
            print(f"{d['count']:7d}  {d['digest']}  {name}")
            total += d["count"]
        print(f"{total:7d}  total in {len(result['folders'])} folders")
    return 0


# ------------------------------------------------------------------ compare

def load(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if "folders" not in data:
        raise SystemExit(f"{path}: not a digest.py --json output (no 'folders')")
    return data["folders"]


def as_key(entry):
    sha, flags, date = entry
    return (sha, tuple(flags), int(date))


def describe(key, other):
    sha, flags, date = key
    s = f"{sha[:16]} flags=[{' '.join(flags)}] date={date}"
    same_body = [k for k in other if k[0] == sha]
    if same_body:
        k = same_body[0]
        hints = []
        if k[1] != flags:
            hints.append(f"other side has flags [{' '.join(k[1])}]")
        if k[2] != date:
            hints.append(f"other side has date {k[2]} ({k[2] - date:+d}s)")
        s += " (same bytes; " + "; ".join(hints) + ")"
    return s


def cmd_compare(argv):
    ap = argparse.ArgumentParser(prog="digest.py compare",
                                 description="compare two digest.py --json outputs")
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--map", help='JSON object {"old folder": "new folder" or null}')
    ap.add_argument("--strict-extra", action="store_true",
                    help="non-empty new folders that nothing maps to are a failure")
    ap.add_argument("--show", type=int, default=5, help="differences shown per folder")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    old, new = load(args.old), load(args.new)
    if args.map:
        with open(args.map, encoding="utf-8") as f:
            mapping = json.load(f)
        if not isinstance(mapping, dict):
            raise SystemExit(f"{args.map}: must be a JSON object")
    else:
        mapping = {name: name for name in old}

    ok = True
    report = {"folders": {}, "unmapped": [], "extra": {}, "errors": []}
    for o in mapping:
        if o not in old:
            report["errors"].append(f"map names old folder {o!r}, which {args.old} does not have")
            ok = False
    report["unmapped"] = sorted(o for o in old if o not in mapping)
    targets = {}
    for o, n in mapping.items():
        if n is not None and o in old:
            targets.setdefault(n, []).append(o)

    lines = []
    for n in sorted(targets):
        want = Counter()
        for o in targets[n]:
            want.update(as_key(e) for e in old[o]["messages"])
        have = Counter(as_key(e) for e in new[n]["messages"]) if n in new else Counter()
        missing = want - have
        extra = have - want
        equal = not missing and not extra and n in new
        entry = {"from": targets[n], "old_count": sum(want.values()),
                 "new_count": sum(have.values()), "status": "OK" if equal else "DIFF",
                 "missing_on_new": sum(missing.values()), "extra_on_new": sum(extra.values())}
        src = " + ".join(targets[n])
        if equal:
            lines.append(f"OK    {n}  ({entry['old_count']} messages; from {src})")
        else:
            ok = False
            what = "folder missing on new" if n not in new else \
                f"{entry['missing_on_new']} missing on new, {entry['extra_on_new']} extra on new"
            lines.append(f"DIFF  {n}  old={entry['old_count']} new={entry['new_count']}: {what} "
                         f"(from {src})")
            diffs = []
            for k in list(missing.elements())[:args.show]:
                d = "missing: " + describe(k, extra)
                diffs.append(d)
                lines.append("        " + d)
            for k in list(extra.elements())[:args.show]:
                d = "extra:   " + describe(k, missing)
                diffs.append(d)
                lines.append("        " + d)
            entry["first_differences"] = diffs
        report["folders"][n] = entry
    for n in sorted(new):
        if n in targets:
            continue
        if new[n]["count"]:
            report["extra"][n] = new[n]["count"]
            lines.append(f"EXTRA {n}  ({new[n]['count']} messages on new that no old folder maps to)")
            if args.strict_extra:
                ok = False
    for o in report["unmapped"]:
        lines.append(f"UNMAPPED {o}  ({old[o]['count']} messages on old, not in the map)")
    for e in report["errors"]:
        lines.append("ERROR " + e)
    report["ok"] = ok
    if args.json:
        json.dump(report, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    else:
        print("\n".join(lines))
        print("RESULT: " + ("all mapped folders equal" if ok else "DIFFERENCES FOUND"))
    return 0 if ok else 1


def main():
    argv = sys.argv[1:]
    if argv and argv[0] == "compare":
        return cmd_compare(argv[1:])
    return cmd_digest(argv)


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends us quietly, like other tools
    try:
        sys.exit(main())
    except (U.ImapError, imaplib.IMAP4.error, ssl.SSLError, OSError, ValueError) as e:
        print(f"digest: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(2)
