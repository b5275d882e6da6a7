"""Envoy's protoc-gen-validate (PGV) rules, checked with PyPI's protoc-gen-validate on protobuf 7.

The official protos (xds-protos) carry Envoy's PGV rules as `validate.rules` field options (and
`validate.required` on oneofs); Envoy refuses a resource that breaks one (a NACK). Without an
Envoy binary here, `violations(msg, path)` checks one message against its own rules with
protoc-gen-validate's Python validator; proto_check.find_problems calls it for every message it
walks (every repeated item, map value and unpacked google.protobuf.Any), so each violation
carries the path of the message it is in.

protoc-gen-validate 1.3.3 does not run on protobuf 7 as published, so its module source is
loaded with these textual patches and executed as a module of our own (a fresh venv needs no
edits in site-packages):
- `field.label == 3` (twice: `is_map` and `rule_type`) becomes `field.is_repeated`:
  FieldDescriptor.label is gone in protobuf 7;
- `string_template` writes the well-known regex (HTTP_HEADER_NAME, ...) into the field's
  options to render it; protobuf 7 warns that options returned by GetOptions() are read-only
  (and will raise), and the write would change the shared descriptor, so it writes into a copy.
Then the module's jinja2 `Template` is memoised (the library compiles every template string
again for every field, ~50 ms per message type; memoised it is ~3 ms) and its recursion into
embedded messages is turned off: the walk in proto_check visits them itself, with their path.
Compiled validators are cached per message type, here and by the library.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
import types

from google.protobuf.message import Message

_LIBRARY = "protoc_gen_validate.validator"
_WELL_KNOWN_REGEX = "    if option_value.string.well_known_regex:\n"
# (old, new, how many times old must occur): a new protoc-gen-validate fails loudly, not silently.
_PATCHES = (
    ("field.label == 3", "field.is_repeated", 2),
    (_WELL_KNOWN_REGEX,
     "    option_value = _options_copy(option_value)\n" + _WELL_KNOWN_REGEX, 1),
)


def _options_copy(options: Message) -> Message:
    copy = type(options)()
    copy.CopyFrom(options)
    return copy


def _load_validator() -> types.ModuleType:
    spec = importlib.util.find_spec(_LIBRARY)
    if spec is None:
        raise ImportError(f"{_LIBRARY} not installed: pip install -r requirements.txt (protoc-gen-validate)")
    source = spec.loader.get_source(_LIBRARY)
    for old, new, count in _PATCHES:
        found = source.count(old)
        if found != count:
            raise ImportError(f"{spec.origin}: expected {count} x {old!r} to patch, found {found}")
        source = source.replace(old, new)
    if ".label" in source:
        raise ImportError(f"{spec.origin}: still reads FieldDescriptor.label after patching")
    module = types.ModuleType("pgv_validator_patched")
    module.__file__ = spec.origin
    module._options_copy = _options_copy
    exec(compile(source, spec.origin, "exec"), module.__dict__)
    module.Template = functools.lru_cache(maxsize=None)(module.Template)
    module._validate_all = lambda _msg: []  # embedded messages: proto_check's walk checks each one
    return module


validator = _load_validator()


def _compile_check(descriptor) -> object:
    try:
        return validator._validate_all_inner(validator.ValidatingMessage(types.SimpleNamespace(DESCRIPTOR=descriptor)))
    except SystemError as exc:
        return exc  # not cached: see _check_for
    except Exception as exc:  # noqa: BLE001 - the library's templates fail in many ways
        return f"{type(exc).__name__}: {exc}"


_checks: dict = {}
_checks_lock = threading.Lock()


def _check_for(descriptor) -> object:
    """The compiled check of one message type (a function returning error strings), or why none.

    The library compiles generated source. CPython 3.11.7 has been seen (once, in CI, while the
    first compile of a type ran on an ADS client's reader thread) to fail that compile with
    `SystemError: AST constructor recursion depth mismatch`, an interpreter fault, not a verdict
    on the type; and a memoised failure then failed every later test that met the type. So a
    SystemError is retried on a fresh thread (fresh recursion accounting) and never cached."""
    with _checks_lock:
        if descriptor in _checks:
            return _checks[descriptor]
        check = _compile_check(descriptor)
        for _ in range(3):
            if not isinstance(check, SystemError):
                break
            result: list = []
            worker = threading.Thread(target=lambda: result.append(_compile_check(descriptor)))
            worker.start()
            worker.join()
            check = result[0] if result else check
        if isinstance(check, SystemError):
            return f"SystemError: {check}"
        _checks[descriptor] = check
        return check


def _has_rules(descriptor) -> bool:
    """Whether any field of the type carries `validate.rules` or any oneof `validate.required`.
    A type without any (OpenTelemetry's common.proto, say) has nothing to break; the library's
    generated code is not run for it, since it mishandles some such types (a field named
    `values`, as in opentelemetry.proto.common.v1.KeyValueList, fails it with a TypeError)."""
    for fd in descriptor.fields:
        if any(option.full_name == "validate.rules" for option, _ in fd.GetOptions().ListFields()):
            return True
    for oneof in descriptor.oneofs:
        if any(option.full_name == "validate.required" for option, _ in oneof.GetOptions().ListFields()):
            return True
    return False


def _errors(msg: Message) -> list[str]:
    if not _has_rules(msg.DESCRIPTOR):
        return []
    check = _check_for(msg.DESCRIPTOR)
    if isinstance(check, str):
        return [f"no PGV validator for {msg.DESCRIPTOR.full_name} ({check})"]
    return list(check(msg))


def violations(msg: Message, path: str) -> list[str]:
    """Envoy's PGV rules that `msg` itself breaks (not its embedded messages), each with a path."""
    # Patterns such as HEADER_STRING hold raw NUL, LF and CR: escape them for one-line reports.
    return [_locate(msg, path, error).translate(_CONTROL_ESCAPES) for error in _errors(msg)]


@functools.lru_cache(maxsize=None)
def skips(fd) -> bool:
    """Whether the field's rules say its messages are not to be validated (`message.skip`)."""
    for option, rules in fd.GetOptions().ListFields():
        if option.full_name == "validate.rules":
            return rules.message.skip or rules.repeated.items.message.skip or rules.map.values.message.skip
    return False


def _locate(msg: Message, path: str, error: str) -> str:
    """Turn the library's `p.FIELD rule`, `FIELD is required.`, `item rule`, `Oneof X is required` into PATH: rule."""
    name, _, rule = error.removeprefix("p.").partition(" ")
    if name.split(".")[0].split("[")[0] in msg.DESCRIPTOR.fields_by_name:  # `match is required.` has no p.
        value = _value(msg, name)
        shown = "" if value is None or rule.startswith("is required") else f" (value {_short(value)})"
        return f"{path}.{name}: PGV: {rule.rstrip('.')}{shown}"
    if error.startswith("Oneof "):
        return f"{path}: PGV: oneof {error.split(' ')[1]} is required"
    if error.startswith(("item ", "key ")):
        where = _element_of(msg, error)
        if where is not None:
            name, key, value = where
            return f"{path}.{name}[{key!r}]: PGV: {error.partition(' ')[2]} (value {_short(value)})"
    return f"{path}: PGV: {error}"


_CONTROL_ESCAPES = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F]}


def _value(msg: Message, dotted: str):
    value = msg
    for part in dotted.split("."):
        if not hasattr(value, part):
            return None
        value = getattr(value, part)
    return value


def _short(value) -> str:
    text = repr(value) if not isinstance(value, Message) else f"<{value.DESCRIPTOR.name}>"
    return text if len(text) <= 80 else text[:77] + "..."


def _element_of(msg: Message, error: str):
    """The repeated item or map key an `item ...`/`key ...` error is about: (field, index/key, value).

    The library names neither field nor index for these rules, so each element of each repeated
    or map field is checked again alone in an otherwise empty message (only on failure)."""
    for fd, values in msg.ListFields():
        if not fd.is_repeated:
            continue
        is_map = fd.message_type is not None and fd.message_type.GetOptions().map_entry
        for key in (list(values) if is_map else range(len(values))):
            probe = type(msg)()
            if is_map:
                entry = values[key]
                if isinstance(entry, Message):
                    getattr(probe, fd.name)[key].CopyFrom(entry)
                else:
                    getattr(probe, fd.name)[key] = entry
            elif fd.message_type is not None:
                getattr(probe, fd.name).add().CopyFrom(values[key])
            else:
                getattr(probe, fd.name).append(values[key])
            if error in _errors(probe):
                return fd.name, key, (key if is_map else values[key])
    return None
