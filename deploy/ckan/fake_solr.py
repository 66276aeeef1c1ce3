#!/usr/bin/env python3
"""In-memory Solr stand-in, just enough for CKAN's indexing and simple queries.

CKAN cannot run without something answering at ``solr_url``: ``package_create``
indexes the dataset *before* committing it, and organisation pages count their
datasets through a Solr query. No Apache Solr is available on our machines, so
this standard-library HTTP server plays the part of one core for the
publication tests (see ``/work/shared/reference/ckan-local.md`` §1).

What it answers (any core name, e.g. ``/solr/ckan``):

* ``POST <core>/update``: JSON document lists (what pysolr >= 3.10 sends for
  ``add``), Solr's JSON command object (``{"add": ..., "delete": ...}``) and
  XML ``<add>``, ``<delete><id>|<query>`` and ``<commit/>``. Documents are kept
  in memory, keyed on CKAN's uniqueKey ``index_id`` (``id`` as fallback).
* ``GET|POST <core>/select``: ``q``, ``fq`` (repeatable), ``fl``, ``rows``,
  ``start``, ``sort`` (by field; ``score`` ignored), ``q.op`` and
  ``facet.field`` counts. Queries use a small Lucene subset: ``*:*``,
  ``field:value``, ``field:"quoted"``, ``+``/``-``/``NOT``, ``AND``/``OR``,
  parentheses, ``field:(a OR b)``, ``*``/``?`` wildcards. Bare words match
  case-insensitively as substrings of any field. Range clauses match everything.
* ``GET <core>/schema`` and ``<core>/admin/file?file=schema.xml``: a schema
  named ``ckan-2.11`` so CKAN's start-up version check passes.
* ``GET <core>/admin/ping``.

Not a search engine: no relevance ranking, no dismax ``qf``/``mm``, no date
maths, nothing persisted. Fine for a publishing flow; do not test search
semantics with it.

Usage: ``python fake_solr.py --host 127.0.0.1 --port 8983 [--port-file F]``
(``--port 0`` picks a free port and writes it to ``--port-file``).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, urlsplit

SCHEMA_XML = '<?xml version="1.0" encoding="UTF-8"?>\n<schema name="ckan-2.11" version="1.6"></schema>\n'
UNIQUE_KEY = "index_id"

Doc = dict[str, Any]
Predicate = Callable[[Doc], bool]

# ---------------------------------------------------------------- query parsing

MUST, SHOULD, MUST_NOT = "must", "should", "must_not"


class QuerySyntaxError(ValueError):
    pass


def _tokenize(text: str) -> list[tuple[str, Any]]:
    """Split a Lucene query into tokens.

    Token kinds: LP, RP, MOD ('+', '-'), OP ('AND', 'OR', 'NOT'), PHRASE (str),
    RANGE, TERM (str, may hold wildcards) and FIELD (name) for a ``name:``
    prefix whose value is the next token.
    """
    tokens: list[tuple[str, Any]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == "(":
            tokens.append(("LP", None))
            i += 1
        elif c == ")":
            tokens.append(("RP", None))
            i += 1
        elif c in "+-!" and i + 1 < n and not text[i + 1].isspace():
            tokens.append(("OP", "NOT") if c == "!" else ("MOD", c))
            i += 1
        elif text.startswith("&&", i):
            tokens.append(("OP", "AND"))
            i += 2
        elif text.startswith("||", i):
            tokens.append(("OP", "OR"))
            i += 2
        elif c == '"':
            value, i = _read_quoted(text, i)
            tokens.append(("PHRASE", value))
        elif c in "[{":
            close = "]" if c == "[" else "}"
            end = text.find(close, i)
            if end < 0:
                raise QuerySyntaxError(f"unclosed range at {i}")
            tokens.append(("RANGE", text[i : end + 1]))
            i = end + 1
        else:
            raw: list[str] = []
            wild = False
            field = None
            while i < n and not text[i].isspace() and text[i] not in '()"':
                ch = text[i]
                if ch == "\\" and i + 1 < n:
                    raw.append(text[i + 1])
                    i += 2
                    continue
                if ch == ":" and field is None:
                    field = "".join(raw)
                    raw = []
                    i += 1
                    if i < n and text[i] in '(["{':
                        break
                    continue
                if ch in "*?":
                    wild = True
                raw.append(ch)
                i += 1
            word = "".join(raw)
            if field is not None:
                tokens.append(("FIELD", field))
                if word:
                    tokens.append(("TERM", (word, wild)))
            elif word in ("AND", "OR", "NOT"):
                tokens.append(("OP", word))
            else:
                tokens.append(("TERM", (word, wild)))
    return tokens


def _read_quoted(text: str, i: int) -> tuple[str, int]:
    out: list[str] = []
    i += 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif ch == '"':
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise QuerySyntaxError("unclosed quote")


def _values(doc: Doc, field: str) -> list[str]:
    value = doc.get(field)
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        else:
            out.append(str(item))
    return out


def _all_values(doc: Doc) -> Iterable[str]:
    for field in doc:
        yield from _values(doc, field)


def _term_predicate(field: str | None, value: str, wildcard: bool, phrase: bool) -> Predicate:
    if field in ("*", None) and value == "*":
        return lambda doc: True
    if field is None or field == "text":
        # Bare words behave like a catch-all text field: case-insensitive substring.
        needle = value.lower()
        if wildcard:
            rx = _wildcard_regex(needle)
            return lambda doc: any(rx.search(v.lower()) for v in _all_values(doc))
        return lambda doc: any(needle in v.lower() for v in _all_values(doc))
    if value == "*" and not phrase:
        return lambda doc: bool(_values(doc, field))
    if wildcard and not phrase:
        rx = _wildcard_regex(value.lower())
        return lambda doc: any(rx.fullmatch(v.lower()) for v in _values(doc, field))
    lowered = value.lower()
    words = re.compile(r"(?<!\w)" + re.escape(lowered) + r"(?!\w)")

    def match(doc: Doc) -> bool:
        for v in _values(doc, field):
            if v == value or v.lower() == lowered:
                return True
            # Analysed text fields (title, notes, tags...) match on whole words.
            if " " in v and words.search(v.lower()):
                return True
        return False

    return match


def _wildcard_regex(pattern: str) -> re.Pattern[str]:
    parts = ["." if ch == "?" else ".*" if ch == "*" else re.escape(ch) for ch in pattern]
    return re.compile("".join(parts))


class _Parser:
    def __init__(self, tokens: list[tuple[str, Any]], default_occur: str):
        self.tokens = tokens
        self.pos = 0
        self.default_occur = default_occur

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None:
            raise QuerySyntaxError("unexpected end of query")
        self.pos += 1
        return tok

    def parse(self) -> Predicate:
        pred = self.clauses(None)
        if self.peek() is not None:
            raise QuerySyntaxError(f"unexpected token {self.peek()!r}")
        return pred

    def clauses(self, field: str | None) -> Predicate:
        # Each clause: [occur, predicate, explicit?]. AND/OR rewrite the occur of
        # both neighbours the way Lucene's classic QueryParser does.
        items: list[list[Any]] = []
        conj: str | None = None
        while True:
            tok = self.peek()
            if tok is None or tok[0] == "RP":
                break
            if tok[0] == "OP" and tok[1] in ("AND", "OR"):
                conj = tok[1]
                self.pos += 1
                continue
            occur, explicit = self.default_occur, False
            if tok[0] == "MOD":
                occur, explicit = (MUST if tok[1] == "+" else MUST_NOT), True
                self.pos += 1
            elif tok[0] == "OP" and tok[1] == "NOT":
                occur, explicit = MUST_NOT, True
                self.pos += 1
            pred = self.primary(field)
            if conj == "AND":
                if occur != MUST_NOT:
                    occur = MUST
                if items and items[-1][0] == SHOULD:
                    items[-1][0] = MUST
            elif conj == "OR":
                if not explicit:
                    occur = SHOULD
                if items and items[-1][0] == MUST and not items[-1][2]:
                    items[-1][0] = SHOULD
            items.append([occur, pred, explicit])
            conj = None
        return _combine([(o, p) for o, p, _ in items])

    def primary(self, field: str | None) -> Predicate:
        kind, value = self.take()
        if kind == "LP":
            pred = self.clauses(field)
            if self.take()[0] != "RP":
                raise QuerySyntaxError("missing )")
            return pred
        if kind == "FIELD":
            return self.primary(value)
        if kind == "PHRASE":
            return _term_predicate(field, value, wildcard=False, phrase=True)
        if kind == "RANGE":
            return lambda doc: True  # date/number ranges are not evaluated
        if kind == "TERM":
            word, wild = value
            return _term_predicate(field, word, wildcard=wild, phrase=False)
        raise QuerySyntaxError(f"unexpected token {kind} {value!r}")


def _combine(clauses: list[tuple[str, Predicate]]) -> Predicate:
    must = [p for o, p in clauses if o == MUST]
    should = [p for o, p in clauses if o == SHOULD]
    must_not = [p for o, p in clauses if o == MUST_NOT]
    if not clauses:
        return lambda doc: False

    def match(doc: Doc) -> bool:
        if any(p(doc) for p in must_not):
            return False
        if not all(p(doc) for p in must):
            return False
        if not must and should:
            return any(p(doc) for p in should)
        return True  # pure-negative queries match everything not excluded

    return match


def parse_query(text: str, default_operator: str = "OR") -> Predicate:
    text = (text or "").strip()
    if text.startswith("{!"):
        # Local params such as {!tag=x} only change scoring/facets here.
        end = text.find("}")
        text = text[end + 1 :] if end >= 0 else text
    if not text:
        return lambda doc: True
    occur = MUST if default_operator.upper() == "AND" else SHOULD
    return _Parser(_tokenize(text), occur).parse()


# ---------------------------------------------------------------- the index


class Core:
    def __init__(self) -> None:
        self.docs: dict[str, Doc] = {}
        self.lock = threading.Lock()

    def add(self, docs: Iterable[Doc]) -> int:
        count = 0
        with self.lock:
            for doc in docs:
                key = doc.get(UNIQUE_KEY) or doc.get("id")
                if key is None:
                    raise ValueError(f"document without {UNIQUE_KEY}/id")
                self.docs[str(key)] = dict(doc)
                count += 1
        return count

    def delete_ids(self, ids: Iterable[str]) -> None:
        with self.lock:
            for key in ids:
                self.docs.pop(str(key), None)
                # pysolr deletes by id; CKAN's uniqueKey is index_id but allow id too.
                for k, doc in list(self.docs.items()):
                    if str(doc.get("id")) == str(key):
                        del self.docs[k]

    def delete_query(self, query: str) -> None:
        pred = parse_query(query)
        with self.lock:
            for k, doc in list(self.docs.items()):
                if pred(doc):
                    del self.docs[k]

    def select(self, params: dict[str, list[str]]) -> dict[str, Any]:
        first = lambda name, default=None: (params.get(name) or [default])[0]  # noqa: E731
        q_op = first("q.op", "OR")
        preds = [parse_query(first("q", "*:*") or "*:*", q_op)]
        preds += [parse_query(fq, q_op) for fq in params.get("fq", []) if fq.strip()]
        with self.lock:
            hits = [doc for doc in self.docs.values() if all(p(doc) for p in preds)]
        hits = _sort(hits, first("sort", "") or "")
        start = int(first("start", "0") or 0)
        rows = int(first("rows", "10") or 10)
        page = [_project(doc, first("fl", "*") or "*") for doc in hits[start : start + rows]]
        body: dict[str, Any] = {
            "responseHeader": {"status": 0, "QTime": 0, "params": {k: v[-1] for k, v in params.items()}},
            "response": {"numFound": len(hits), "start": start, "numFoundExact": True, "docs": page},
        }
        if first("facet", "false") == "true" or params.get("facet.field"):
            body["facet_counts"] = {
                "facet_queries": {},
                "facet_fields": _facets(hits, params),
                "facet_ranges": {},
                "facet_intervals": {},
                "facet_heatmaps": {},
            }
        return body


def _sort(docs: list[Doc], sort: str) -> list[Doc]:
    keys = [part.split() for part in sort.split(",") if part.strip()]
    for key in reversed(keys):  # stable sorts, least significant key first
        field = key[0]
        if field == "score":
            continue
        desc = len(key) > 1 and key[1].lower() == "desc"
        present = [d for d in docs if _values(d, field)]
        missing = [d for d in docs if not _values(d, field)]
        present.sort(key=lambda d: _sort_key(_values(d, field)[0]), reverse=desc)
        docs = present + missing
    return docs


def _sort_key(value: str) -> tuple[int, float, str]:
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value.lower())


def _project(doc: Doc, fl: str) -> Doc:
    fields = [f for f in re.split(r"[,\s]+", fl) if f and f != "score"]
    if not fields or "*" in fields:
        return dict(doc)
    return {f: doc[f] for f in fields if f in doc}


def _facets(docs: list[Doc], params: dict[str, list[str]]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for field in params.get("facet.field", []):
        field = re.sub(r"^\{![^}]*\}", "", field)
        limit = int((params.get(f"f.{field}.facet.limit") or params.get("facet.limit") or ["100"])[0])
        mincount = int((params.get(f"f.{field}.facet.mincount") or params.get("facet.mincount") or ["0"])[0])
        counts: dict[str, int] = {}
        for doc in docs:
            for v in set(_values(doc, field)):
                counts[v] = counts.get(v, 0) + 1
        ordered = sorted((kv for kv in counts.items() if kv[1] >= mincount), key=lambda kv: (-kv[1], kv[0]))
        if limit >= 0:
            ordered = ordered[:limit]
        out[field] = [x for kv in ordered for x in kv]
    return out


# ---------------------------------------------------------------- HTTP layer

_PATH_RE = re.compile(r"^/solr/(?P<core>[^/]+)/(?P<handler>select|update|schema(?:/name)?|admin/ping|admin/file)/?$")


class SolrHandler(BaseHTTPRequestHandler):
    server_version = "FakeSolr/1.0"
    protocol_version = "HTTP/1.1"
    cores: dict[str, Core] = {}
    cores_lock = threading.Lock()
    verbose = False

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.verbose:
            sys.stderr.write("fake_solr: " + (format % args) + "\n")

    def _core(self, name: str) -> Core:
        with self.cores_lock:
            return self.cores.setdefault(name, Core())

    def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, msg: str) -> None:
        self._send(status, {"responseHeader": {"status": status, "QTime": 0}, "error": {"msg": msg, "code": status}})

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._dispatch(body=b"")

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        length = int(self.headers.get("Content-Length") or 0)
        self._dispatch(body=self.rfile.read(length) if length else b"")

    def _dispatch(self, body: bytes) -> None:
        parts = urlsplit(self.path)
        params = parse_qs(parts.query, keep_blank_values=True)
        m = _PATH_RE.match(parts.path)
        if not m:
            if parts.path.rstrip("/") in ("", "/solr"):
                return self._send(200, {"status": "fake solr"})
            return self._error(404, f"no handler for {parts.path}")
        core, handler = self._core(m["core"]), m["handler"]
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        try:
            if handler == "select":
                if ctype == "application/x-www-form-urlencoded" and body:
                    for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items():
                        params.setdefault(k, []).extend(v)
                return self._send(200, core.select(params))
            if handler == "update":
                self._update(core, body, ctype)
                return self._send(200, {"responseHeader": {"status": 0, "QTime": 0}})
            if handler == "schema/name":
                return self._send(200, {"responseHeader": {"status": 0}, "name": "ckan-2.11"})
            if handler in ("schema", "admin/file"):
                return self._send(200, SCHEMA_XML, "application/xml")
            return self._send(200, {"responseHeader": {"status": 0}, "status": "OK"})
        except (QuerySyntaxError, ValueError, ET.ParseError) as exc:
            return self._error(400, f"{type(exc).__name__}: {exc}")

    def _update(self, core: Core, body: bytes, ctype: str) -> None:
        text = body.decode("utf-8").strip()
        if not text:
            return  # e.g. a bare ?commit=true
        if ctype.endswith("json") or text[:1] in "[{":
            payload = json.loads(text)
            if isinstance(payload, list):
                core.add(payload)
                return
            for command, arg in payload.items():
                if command == "add":
                    core.add([arg["doc"] if "doc" in arg else arg])
                elif command == "delete":
                    for item in arg if isinstance(arg, list) else [arg]:
                        if isinstance(item, dict) and "query" in item:
                            core.delete_query(item["query"])
                        else:
                            core.delete_ids([item["id"] if isinstance(item, dict) else item])
            return
        root = ET.fromstring(text)
        if root.tag == "add":
            docs = []
            for doc_el in root.findall("doc"):
                doc: Doc = {}
                for f in doc_el.findall("field"):
                    name, value = f.get("name"), f.text or ""
                    if name in doc:
                        doc[name] = (doc[name] if isinstance(doc[name], list) else [doc[name]]) + [value]
                    else:
                        doc[name] = value
                docs.append(doc)
            core.add(docs)
        elif root.tag == "delete":
            core.delete_ids([el.text or "" for el in root.findall("id")])
            for el in root.findall("query"):
                core.delete_query(el.text or "")
        # <commit/>, <optimize/>, <rollback/>: nothing to do in memory


def serve(host: str, port: int, port_file: str | None = None, verbose: bool = False) -> None:
    SolrHandler.verbose = verbose
    server = ThreadingHTTPServer((host, port), SolrHandler)
    server.daemon_threads = True
    bound = server.server_address[1]
    if port_file:
        tmp = f"{port_file}.tmp"
        with open(tmp, "w") as fh:
            fh.write(str(bound))
        os.replace(tmp, port_file)
    print(f"fake_solr listening on http://{host}:{bound}/solr/ckan", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8983, help="0 picks a free port")
    parser.add_argument("--port-file", help="write the bound port here once listening")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    # Ignored: lets a launcher recognise its own process in /proc/<pid>/cmdline.
    parser.add_argument("--run-dir-marker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    serve(args.host, args.port, args.port_file, args.verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
