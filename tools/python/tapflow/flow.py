"""Flow: a wide-table flow recorded in Python, saved and run through `tap`.

    f = Flow("Order_SingleView_Sync")
    f.read_from("MySQL_ECommerce.ecom_orders")
    f.lookup("MySQL_ECommerce.ecom_customers", path="customer_info", type="object",
             relation=[["customer_id", "customer_id"]])
    f.write_to("MongoDB_ECommerce.orderSingleView")
    f.filter("order_status != 'canceled'")       # rows kept (SQL-like condition)
    f.exclude("order_approved_at")                # or include(...); rename_fields({...})
    f.add_fields([["year", "Int", "YEAR(order_purchase_timestamp)"]])
    f.save(); f.start(); f.status(); f.stop()
    f.stats()                       # TapFlow's stats of the running flow, a dict
    f.logs(limit=20, level="error") # the flow's log lines; follow=True: an iterator

Each definition call checks its arguments the way the Tap Shell's parser does
(view/flow_parse.c, view/flow_spec.c), raising FlowError with the reason,
prints the shell's "Flow updated: ..." lines and returns the flow, so calls
chain. save() hands the flow, written in the shell's language, to `tap -q -f -`.
"""
import json
import re
import time

from tapflow import session as sessions
from tapflow.errors import FlowError, TapflowError

# What tap accepts as a flow name (tools/tap/flow_shell.c): it is also a file
# name under TAPFLOW_HOME.
FLOW_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}\Z")
DATASOURCE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,127}\Z")
STATUS_LINE = re.compile(r"job current status is: (\w+), qps is: ([0-9.]+), total rows: (\d+), "
                         r"delay is: (\d+)ms")
# What tap's `logs --level` takes (tools/tap/command.c) and its --limit range.
LOG_LEVELS = ("error", "warn", "warning", "info")
LOGS_MAX_LIMIT = 1000000
# status() pauses this long before answering any state but running or error,
# so that a loop polling it until "running" does not spin on the CPU.
NOT_RUNNING_PAUSE_S = 0.5


def _string(value, what, example):
    if not isinstance(value, str):
        raise FlowError("%s must be a string such as %s, got %s" % (what, example,
                                                                   type(value).__name__))
    for ch in value:
        if ch in "\"'\\" or ord(ch) < 0x20 or ord(ch) == 0x7f:
            raise FlowError("%s %r contains %r: quotes, backslashes and control characters are "
                            "not allowed" % (what, value, ch))
    return value


def _qualified(value, what, thing, example):
    """ "Datasource.name" -> (datasource, name), as the shell splits it (at the first '.')."""
    _string(value, what, example)
    ds, dot, name = value.partition(".")
    if not dot or not ds or not name:
        raise FlowError('%s: expected "Datasource.%s", found "%s"' % (what, thing, value))
    if not DATASOURCE_NAME.match(ds):
        raise FlowError("%s: datasource name %r may hold letters, digits, '_' and '-' only"
                        % (what, ds))
    return ds, name


def _literal(value):
    """value as a string literal of the flow language (view/flow_parse.c reads
    \\ \" \n \t back); other control characters have no place in a flow."""
    for ch in value:
        if (ord(ch) < 0x20 and ch not in "\n\t") or ord(ch) == 0x7f:
            raise FlowError("%r contains the control character %r" % (value, ch))
    return '"%s"' % (value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
                     .replace("\t", "\\t"))


def _condition(value, what):
    if not isinstance(value, str) or not value.strip():
        raise FlowError("%s must be a condition such as \"order_status != 'canceled'\", got %r"
                        % (what, value))
    _literal(value)
    return value


def _columns(names, what):
    """A list of column names (strings without '.')."""
    if isinstance(names, str) or not isinstance(names, (list, tuple)) or not names:
        raise FlowError('%s takes column names, such as ["order_id", "order_status"], got %r'
                        % (what, names))
    for name in names:
        if not isinstance(name, str) or not name or "." in name:
            raise FlowError("%s: %r is not a column name (a non-empty string without '.')"
                            % (what, name))
    if len(set(names)) != len(names):
        raise FlowError("%s names a column twice: %r" % (what, list(names)))
    return list(names)


def _renames(config, what):
    if not isinstance(config, dict) or not config:
        raise FlowError('%s takes a dict of column names to new names, such as '
                        '{"order_status": "status"}, got %r' % (what, config))
    for old, new in config.items():
        _columns([old], what)
        if not isinstance(new, str) or not new or "." in new or new.startswith("$"):
            raise FlowError("%s: new name %r of %r must be a field name (non-empty, no '.', not "
                            "starting with '$')" % (what, new, old))
    if len(set(config.values())) != len(config):
        raise FlowError("%s renames two columns to one name: %r" % (what, config))
    return dict(config)


def _name_list(names):
    return ", ".join(_literal(n) for n in names)


def _dict_text(config):
    return "{%s}" % ", ".join("%s: %s" % (_literal(k), _literal(v)) for k, v in config.items())


def _path_problem(path):
    if not path:
        return "the path is empty"
    if path.startswith(".") or path.endswith(".") or ".." in path:
        return "the path has an empty field name (a '.' at the start, the end or twice)"
    if path.startswith("$") or ".$" in path:
        return "a field name in the path starts with '$'"
    if path == "_id" or path.startswith("_id."):
        return "the path is under _id, which the target owns"
    return None


class Lookup:
    """One lookup(): a child table embedded at path."""

    def __init__(self, datasource, table, path, kind, relation, filter=None, fields=None,
                 rename=None):
        self.datasource = datasource
        self.table = table
        self.path = path
        self.kind = kind
        self.relation = relation
        self.filter = filter
        self.fields = fields
        self.rename = rename

    def text(self, var):
        pairs = ", ".join('["%s", "%s"]' % pair for pair in self.relation)
        extra = ""
        if self.filter is not None:
            extra += ", filter=%s" % _literal(self.filter)
        if self.fields is not None:
            extra += ", fields=[%s]" % _name_list(self.fields)
        if self.rename is not None:
            extra += ", rename=%s" % _dict_text(self.rename)
        return '%s.lookup("%s.%s", path="%s", type="%s", relation=[%s]%s)' % (
            var, self.datasource, self.table, self.path, self.kind, pairs, extra)


class Flow:
    """A flow: one root table, lookups embedding child tables, one target collection."""

    # The variable the saved flow text uses (tap's language needs one).
    VAR = "flow"

    def __init__(self, name):
        if not isinstance(name, str):
            raise FlowError('the flow name must be a string such as "Order_SingleView_Sync", '
                            "got %s" % type(name).__name__)
        if not FLOW_NAME.match(name):
            raise FlowError("flow name %r: use letters, digits, '_', '-' and '.' (at most 100, "
                            "not starting with '.')" % name)
        self.name = name
        self.source = None  # (datasource, table)
        self.lookups = []
        self.target = None  # (datasource, collection)
        # The root's operators, in the shell's order: filter, include,
        # exclude, rename_fields.
        self.root_filter = None
        self.included = []
        self.excluded = []
        self.renames = {}
        self.computed = []  # add_fields: [name, type, expression]
        self.last_status = None
        self._unsaved = False

    def __repr__(self):
        return "Flow(%r)" % self.name

    # ---- definition ----

    def read_from(self, source):
        """Sets the root table, "Datasource.table"; one document per root row."""
        ds, table = _qualified(source, "read_from source", "table", '"MySQL_ECommerce.ecom_orders"')
        if self.source:
            raise FlowError("read_from given twice (the flow reads %s.%s)" % self.source)
        self.source = (ds, table)
        self._unsaved = True
        print("Flow updated: source added", flush=True)
        return self

    def _root_operator(self, name):
        if not self.source:
            raise FlowError("%s before read_from: the root table comes first" % name)
        self._unsaved = True

    def filter(self, query):  # noqa: A003 (TapFlow's name)
        """Keeps the root rows for which query, a SQL-like condition over the root
        table's columns, is TRUE ("order_status != 'canceled' AND price > 10"); the
        other rows have no document. Columns and types are checked when the flow
        is saved or started."""
        _condition(query, "filter")
        self._root_operator("filter")
        if self.root_filter is not None:
            raise FlowError("a second filter (the first is %r): combine the conditions with AND"
                            % self.root_filter)
        self.root_filter = query
        print("Flow updated: filter added", flush=True)
        return self

    def include(self, *fields):
        """Only these columns of the root table appear (its primary key always does)."""
        names = _columns(list(fields), "include")
        self._root_operator("include")
        self.included += names
        print("Flow updated: fields included", flush=True)
        return self

    def exclude(self, *fields):
        """These columns of the root table do not appear (joins still use them)."""
        names = _columns(list(fields), "exclude")
        self._root_operator("exclude")
        self.excluded += names
        print("Flow updated: fields excluded", flush=True)
        return self

    def rename_fields(self, config):
        """Root columns appear under new names: {"order_status": "status"}."""
        renames = _renames(config, "rename_fields")
        self._root_operator("rename_fields")
        self.renames.update(renames)
        print("Flow updated: fields renamed", flush=True)
        return self

    def add_fields(self, fields):
        """Computed fields of the root documents: [[name, type, expression], ...], type one
        of String, Int, Long, Double, Decimal, Boolean, Date, the expression over the root
        table's columns ("price * 2", "CONCAT(city, '/', state)", "YEAR(created_at)",
        "IF(x > 1, 'a', 'b')", "CASE WHEN ... THEN ... ELSE ... END")."""
        if not isinstance(fields, (list, tuple)) or not fields:
            raise FlowError('add_fields takes a list of [name, type, expression], such as '
                            '[["total", "Double", "price + freight"]], got %r' % (fields,))
        checked = []
        for field in fields:
            if (not isinstance(field, (list, tuple)) or len(field) != 3 or
                    not all(isinstance(x, str) for x in field)):
                raise FlowError("each field of add_fields is [name, type, expression] (three "
                                "strings), got %r" % (field,))
            name, kind, expression = field
            _columns([name], "add_fields")
            if kind.lower() not in ("string", "int", "integer", "long", "double", "float",
                                    "number", "decimal", "boolean", "bool", "date", "datetime"):
                raise FlowError('add_fields: unknown type "%s" (String, Int, Long, Double, '
                                "Decimal, Boolean or Date)" % kind)
            _condition(expression, 'the expression of add_fields "%s"' % name)
            checked.append([name, kind, expression])
        self._root_operator("add_fields")
        self.computed += checked
        print("Flow updated: fields added", flush=True)
        return self

    def lookup(self, source, path=None, type=None, relation=None,  # noqa: A002 (the guide's name)
               filter=None, fields=None, rename=None):  # noqa: A002 (TapFlow's names)
        """Embeds a child table at path ("a" or "parent_path.a") as an "object" or an
        "array" of rows, joined by relation=[["parent_field", "child_column"], ...];
        filter= keeps only the child rows for which the condition is TRUE, fields=
        lists the columns that appear and rename= gives some of them new names."""
        ds, table = _qualified(source, "lookup source", "table", '"MySQL_ECommerce.ecom_customers"')
        if path is None:
            raise FlowError('lookup of %s needs path="customer_info"' % source)
        _string(path, "path of lookup", '"customer_info"')
        if type is None:
            raise FlowError('lookup of %s needs type="object" or type="array"' % source)
        _string(type, "type of lookup", '"object"')
        if type not in ("object", "array"):
            raise FlowError('type must be "object" or "array", found "%s"' % type)
        if relation is None:
            raise FlowError('lookup of %s needs relation=[["parent_field", "child_column"], ...]'
                            % source)
        if not self.source:
            raise FlowError("lookup before read_from: the root table comes first")
        if ds != self.source[0]:
            raise FlowError("lookup of %s: a flow reads one source, and read_from reads %s"
                            % (source, self.source[0]))
        problem = _path_problem(path)
        if problem:
            raise FlowError('path "%s": %s' % (path, problem))
        for other in self.lookups:
            if other.path == path:
                raise FlowError('duplicate path "%s" (lookup of %s.%s has it)'
                                % (path, other.datasource, other.table))
        pairs = self._relation(relation, path, table)
        if filter is not None:
            _condition(filter, "filter of lookup %s" % source)
        if fields is not None:
            fields = _columns(fields, "fields of lookup %s" % source)
        if rename is not None:
            rename = _renames(rename, "rename of lookup %s" % source)
        self.lookups.append(Lookup(ds, table, path, type, pairs, filter, fields, rename))
        self._unsaved = True
        print("Flow updated: source added", flush=True)
        print("Flow updated: new table %s added as child table" % table, flush=True)
        return self

    def _relation(self, relation, path, table):
        if not isinstance(relation, (list, tuple)) or not relation:
            raise FlowError('relation must be a non-empty list of ["parent_field", '
                            '"child_column"] pairs, got %r' % (relation,))
        prefix = path.rpartition(".")[0]
        pairs = []
        for pair in relation:
            if (not isinstance(pair, (list, tuple)) or len(pair) != 2 or
                    not all(isinstance(x, str) for x in pair)):
                raise FlowError('each relation pair must be ["parent_field", "child_column"] '
                                "(two strings), got %r" % (pair,))
            parent, child = (_string(x, "relation field", '"customer_id"') for x in pair)
            if not parent or not child:
                raise FlowError("relation pair with an empty field name: %r" % (pair,))
            if prefix:
                column = parent[len(prefix) + 1:]
                if not parent.startswith(prefix + ".") or not column or "." in column:
                    raise FlowError('relation parent field "%s" of path "%s" must be a column of '
                                    'the parent lookup, written "%s.<column>"'
                                    % (parent, path, prefix))
            elif "." in parent:
                raise FlowError('relation parent field "%s" of path "%s" must be a column of the '
                                "root table %s (no '.')" % (parent, path, self.source[1]))
            if "." in child:
                raise FlowError('relation child column "%s" must be a column of %s (no \'.\')'
                                % (child, table))
            if any(child == c for _, c in pairs):
                raise FlowError('relation names child column "%s" twice' % child)
            pairs.append((parent, child))
        return pairs

    def write_to(self, target):
        """Sets the target, "Datasource.collection" (a MongoDB datasource)."""
        ds, coll = _qualified(target, "write_to target", "collection",
                              '"MongoDB_ECommerce.orderSingleView"')
        if self.target:
            raise FlowError("write_to given twice (the flow writes %s.%s)" % self.target)
        self.target = (ds, coll)
        self._unsaved = True
        print("Flow updated: sink added", flush=True)
        return self

    def check(self):
        """Raises FlowError unless the flow is complete: read_from, write_to, lookup parents."""
        if not self.source:
            raise FlowError('flow %s has no read_from("Datasource.table") for its root table'
                            % self.name)
        if not self.target:
            raise FlowError('flow %s has no write_to("Datasource.collection") for its target'
                            % self.name)
        paths = {lk.path for lk in self.lookups}
        for lk in self.lookups:
            parent = lk.path.rpartition(".")[0]
            if parent and parent not in paths:
                raise FlowError('unknown lookup parent path "%s" of path "%s" (no lookup has '
                                'path="%s")' % (parent, lk.path, parent))

    def text(self):
        """The flow in the Tap Shell's language, ending with save()."""
        v = self.VAR
        lines = ['%s = Flow("%s")' % (v, self.name),
                 '%s.read_from("%s.%s")' % ((v,) + self.source)]
        if self.root_filter is not None:
            lines.append("%s.filter(%s)" % (v, _literal(self.root_filter)))
        if self.included:
            lines.append("%s.include(%s)" % (v, _name_list(self.included)))
        if self.excluded:
            lines.append("%s.exclude(%s)" % (v, _name_list(self.excluded)))
        if self.renames:
            lines.append("%s.rename_fields(%s)" % (v, _dict_text(self.renames)))
        if self.computed:
            lines.append("%s.add_fields([%s])" % (v, ", ".join(
                "[%s]" % _name_list(field) for field in self.computed)))
        lines += [lk.text(v) for lk in self.lookups]
        lines += ['%s.write_to("%s.%s")' % ((v,) + self.target), "%s.save()" % v]
        return "\n".join(lines) + "\n"

    # ---- running, through tap ----

    def save(self):
        """Saves the flow (tap stores it in MongoDB, collection tapflow_flows)."""
        self.check()
        sessions.current().run(["-f", "-"], stdin_text=self.text())
        self._unsaved = False
        return self

    def start(self):
        """Starts the saved flow's daemon (saving first if the flow changed since save())."""
        if self._unsaved:
            self.save()
        sessions.current().run(["-c", "start %s" % self.name])
        return self

    def stop(self):
        """Stops the flow's daemon (it checkpoints; start() resumes from there)."""
        sessions.current().run(["-c", "stop %s" % self.name])
        return self

    def status(self):
        """The flow's state word: "starting", "snapshot" (initial build), "running",
        "stopped" or "error", from `tap -c 'status NAME'`.

        While the flow is not running (every state but "running" and "error"),
        status() sleeps 0.5 s before returning, so a loop that polls it until
        "running" (as the guide's does) waits instead of spinning. The full
        figures are left in self.last_status: state, qps, total_rows, delay_ms."""
        out = sessions.current().run(["-c", "status %s" % self.name])
        m = STATUS_LINE.search(out)
        if not m:
            raise TapflowError("tapflow: unexpected answer from `tap -c 'status %s'`: %r"
                               % (self.name, out.strip()[:200]))
        state = m.group(1)
        self.last_status = {"state": state, "qps": float(m.group(2)),
                            "total_rows": int(m.group(3)), "delay_ms": int(m.group(4))}
        if state not in ("running", "error"):
            time.sleep(NOT_RUNNING_PAUSE_S)
        return state

    # ---- watching, through tap ----

    def stats(self):
        """TapFlow's stats of the running flow, from `tap -c 'stats NAME --json'`: a dict
        with "flow", "state", "position" and the daemon's stats object — "started_ms",
        "snapshot" ({"started_ms", "ended_ms", "rows"}; None while not started/ended),
        "input" ({source table: {"insert", "update", "delete"}}), "output" ({target
        collection: {...}}), "qps" ({"current", "average", "max", "last_5m"}), "lag_ms" —
        and "resync" (the table re-sync's progress). Raises TapflowError with tap's
        message when the flow is not running, as `tap -c 'stats NAME'` exits 1."""
        out = sessions.current().run(["-c", "stats %s --json" % self.name])
        try:
            stats = json.loads(out)
        except ValueError:
            stats = None
        if not isinstance(stats, dict):
            raise TapflowError("tapflow: unexpected answer from `tap -c 'stats %s --json'`: %r"
                               % (self.name, out.strip()[:200]))
        return stats

    def verify(self, counts=False, sample=None, repair=False, timeout=None):
        """Compares the wide table with the source while the flow runs, as
        `tap -c 'verify NAME ...'` (tapflow-replica verify): full by default (every
        document field by field, BSON types included), counts=True for the number of
        documents only, sample=N for N random root keys; repair=True rewrites what
        differs and checks it again. Returns a dict: "ok" (the wide table is right; with
        repair=True, right once repaired),
        "summary" (the summary line), "differences" (the "missing ...", "extra ...",
        "differs ..." lines), "output" (everything printed). Raises TapflowError when
        it cannot verify (the flow is not running, a source error)."""
        if counts and sample is not None:
            raise FlowError("verify: counts and sample exclude each other")
        if sample is not None and (isinstance(sample, bool) or not isinstance(sample, int) or
                                   sample < 1):
            raise FlowError("verify: sample must be a number of 1 or more, got %r" % (sample,))
        command = "verify %s" % self.name
        if counts:
            command += " --counts"
        if sample is not None:
            command += " --sample %d" % sample
        if repair:
            command += " --repair"
        code, out, err = sessions.current().run_code(["-c", command], timeout=timeout)
        lines = out.splitlines()
        summary = [line for line in lines if line.startswith("verify ")]
        if code not in (0, 1) or not summary:
            raise TapflowError("tapflow: verify %s: %s" % (
                self.name, (err.strip() or out.strip())[-500:]))
        return {"ok": code == 0, "summary": summary[-1],
                "differences": [line for line in lines
                                if line.split(" ", 1)[0] in ("missing", "extra", "differs")],
                "output": out}

    def logs(self, limit=50, level=None, follow=False):
        """The flow's log (TAPFLOW_HOME/logs/NAME.log), as `tap -c 'logs NAME ...'` prints it.

        limit: the last N lines (1 to 1000000) at level or above; level: "error",
        "warn" ("warning") or "info" (None: every line). A line is ERROR when it says
        "error", WARN when it says "warning", else INFO (any case; the daemon's
        lines have no level field). Returns a list of lines without their newline.
        follow=True returns an iterator instead: those lines, then each new one as
        the daemon writes it, until close() (or the end of a `with` block), which
        interrupts tap (SIGINT) the way Ctrl-C ends `logs --follow` in the shell."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not (
                1 <= limit <= LOGS_MAX_LIMIT):
            raise FlowError("logs: limit must be a number from 1 to %d, got %r"
                            % (LOGS_MAX_LIMIT, limit))
        if level is not None and (not isinstance(level, str) or level.lower() not in LOG_LEVELS):
            raise FlowError('logs: level must be "error", "warn" or "info", got %r' % (level,))
        command = "logs %s --limit %d" % (self.name, limit)
        if level is not None:
            command += " --level %s" % level.lower()
        if follow:
            return sessions.current().follow(["-c", command + " --follow"])
        return sessions.current().run(["-c", command]).splitlines()
