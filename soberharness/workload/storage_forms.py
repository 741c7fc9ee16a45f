"""Which HTTP call of the Storage API each storage matrix case is, and the cells built from them.

Every case of `matrix_cases` on a table `objects:<bucket>` is either given a `Form` here (the
request the Storage API turns into that SQL, per supabase/storage src/storage/object.ts and
database/pg.ts) or declared in `NO_HTTP_FORM` with the reason no request produces it. A case in
neither makes `storage_cells` raise and fails the selftest `test_storage_forms`, so a new case
cannot silently go untested through HTTP.

How the API runs each form, in one transaction per step as the caller (role, request.jwt.claims,
storage.operation set), which is what the model is asked about:
  download, info, render, sign   SELECT the object (a row not returned is 404)
  upload (POST)                  INSERT as the caller, rolled back; then written as superuser
  upload with x-upsert: true     INSERT .. ON CONFLICT DO UPDATE as the caller, rolled back
  move (POST /object/move)       SELECT the source, UPDATE name/bucket_id/owner, rolled back
  copy (POST /object/copy)       SELECT the source, INSERT the copy, rolled back
  delete (DELETE one / many)     DELETE as the caller; what it returns is what goes

`HTTP_ONLY` adds, on each object the matrix reads, what only HTTP has: info, listing, signing,
rendering, replacing by x-upsert, bulk delete, and copies. A form may need a feature the target's
Storage API may lack (`FEATURES`); its cells are then left out and named by `unoffered`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator

from soberharness.records.results import Cell, Op
from soberharness.workload import storage_actions as act
from soberharness.workload.matrix_cases import CASES, OBJECT_NAME_SHAPES, Action, Case, Ctx, cells
from soberharness.workload.storage_actions import Runner
from soberharness.world.entities import Privacy, StoredObject
from soberharness.world.matrix_world import ACTORS, MatrixWorld

BUCKETS = ("avatars", "videos")
CROSS_BUCKET = "cross-bucket move"
IMAGE_TRANSFORMATION = "image-transformation"
# What a form may need of the Storage API beyond its v1.0 routes, and why it may be missing.
FEATURES: dict[str, str] = {
    CROSS_BUCKET: "POST /object/move with destinationBucket exists from Storage API v1.0.0 on "
                  "(older versions ignore it); probed on the target as service_role",
    IMAGE_TRANSFORMATION: "GET /render/image needs IMAGE_TRANSFORMATION_ENABLED and imgproxy "
                          "(the target's 'image-transformation' capability)",
}


@dataclasses.dataclass(frozen=True)
class Form:
    """One HTTP request form: what runs it, the request it sends, what it needs."""

    run: Runner
    call: str
    needs: str = ""


DOWNLOAD = Form(act.read_object, "GET /object/authenticated/:bucket/*")
UPLOAD = Form(act.insert_object, "POST /object/:bucket/* (x-upsert: false)")
MOVE = Form(act.move_object, "POST /object/move {bucketId, sourceKey, destinationKey}")
MOVE_ACROSS = Form(act.move_object, "POST /object/move {.., destinationBucket}", CROSS_BUCKET)
DELETE = Form(act.delete_object, "DELETE /object/:bucket/*")


def _per_other_bucket(template: str) -> list[str]:
    return [template.format(other=b) for b in BUCKETS]


# Object-name shapes whose dot segments an HTTP request path cannot carry unresolved.
DOT_SEGMENT_SHAPES = ("dots climbing out", "a leading dot folder")


# The matrix's object cases (matrix_cases._object_cases), by operation and name.
FORMS: dict[tuple[Op, str], Form] = {
    (Op.SELECT, "owner's object"): DOWNLOAD,
    (Op.INSERT, "into owner's folder"): UPLOAD,
    (Op.INSERT, "into actor's folder"): UPLOAD,
    (Op.INSERT, "into a folder naming no user"): UPLOAD,
    **{(Op.INSERT, f"name with {shape}"): UPLOAD for shape in OBJECT_NAME_SHAPES
       if shape not in DOT_SEGMENT_SHAPES},
    (Op.UPDATE, "rename within owner's folder"): MOVE,
    (Op.UPDATE, "move to actor's folder"): MOVE,
    (Op.UPDATE, "move to another user's folder"): MOVE,
    (Op.UPDATE, "move to a folder naming no user"): MOVE,
    (Op.UPDATE, "move to a folder that is not a user id"): MOVE,
    (Op.UPDATE, "move actor's own object into owner's folder"): MOVE,
    **{(Op.UPDATE, name): MOVE_ACROSS
       for name in _per_other_bucket("move into {other}, same name")},
    **{(Op.UPDATE, name): MOVE_ACROSS
       for name in _per_other_bucket("move actor's own object into {other}")},
    (Op.DELETE, "owner's object"): DELETE,
    (Op.DELETE, "actor's own object"): DELETE,
}

# Cases no Storage API request can produce, each with the reason.
NO_HTTP_FORM: dict[tuple[Op, str], str] = {
    **{(Op.INSERT, f"name with {shape}"): (
        "a name with `.` or `..` segments is not sent as such over HTTP: the client resolves "
        "dot segments of the request path (RFC 3986 5.2.4) before the Storage API sees the key; "
        "only SQL writes the name as given") for shape in DOT_SEGMENT_SHAPES},
    (Op.UPDATE, "change the object id"):
        "the Storage API never writes objects.id: an upload lets the database default it, a "
        "move or copy keeps it or defaults it (createObject, upsertObject and updateObject in "
        "src/storage/database/pg.ts name no id column); only SQL can try it",
}


@dataclasses.dataclass(frozen=True)
class Extra:
    """An HTTP-only form tried on the object a matrix read case names. `build` gives the action
    run and the actions the model judges (all must be allowed for the cell to be)."""

    op: Op
    name: str
    form: Form
    build: Callable[[Ctx, StoredObject], tuple[Action, tuple[Action, ...]]]


def _same(op: Op) -> Callable[[Ctx, StoredObject], tuple[Action, tuple[Action, ...]]]:
    def build(ctx: Ctx, obj: StoredObject) -> tuple[Action, tuple[Action, ...]]:
        action = Action(op, obj, obj)
        return action, (action,)
    return build


def _copy_into(folder: Callable[[Ctx], object]
               ) -> Callable[[Ctx, StoredObject], tuple[Action, tuple[Action, ...]]]:
    """A copy needs read on the source and insert of the copy (owned by the caller)."""
    def build(ctx: Ctx, obj: StoredObject) -> tuple[Action, tuple[Action, ...]]:
        file = obj.name.rsplit("/", 1)[-1]
        copy = StoredObject(ctx.new_id(f"copy/{obj.bucket}/{folder(ctx)}"), obj.bucket,
                            f"{folder(ctx)}/copy-{file}", ctx.viewer.user_id)
        return Action(Op.INSERT, obj, copy), (Action(Op.SELECT, obj), Action(Op.INSERT, copy))
    return build


HTTP_ONLY: list[Extra] = [
    Extra(Op.SELECT, "info of owner's object",
          Form(act.object_info, "GET /object/info/authenticated/:bucket/*"), _same(Op.SELECT)),
    Extra(Op.SELECT, "list owner's folder",
          Form(act.list_folder, "POST /object/list/:bucket {prefix}"), _same(Op.SELECT)),
    Extra(Op.SELECT, "signed URL of owner's object",
          Form(act.sign_object, "POST /object/sign/:bucket/*"), _same(Op.SELECT)),
    Extra(Op.SELECT, "render owner's object",
          Form(act.render_object, "GET /render/image/authenticated/:bucket/*",
               IMAGE_TRANSFORMATION), _same(Op.SELECT)),
    Extra(Op.UPDATE, "replace owner's object (x-upsert)",
          Form(act.replace_object, "POST /object/:bucket/* (x-upsert: true)"), _same(Op.UPDATE)),
    Extra(Op.DELETE, "bulk delete owner's object",
          Form(act.delete_many, "DELETE /object/:bucket {prefixes}"), _same(Op.DELETE)),
    Extra(Op.INSERT, "copy owner's object into actor's folder",
          Form(act.copy_object, "POST /object/copy"), _copy_into(lambda c: c.me)),
    Extra(Op.INSERT, "copy owner's object into owner's folder",
          Form(act.copy_object, "POST /object/copy"), _copy_into(lambda c: c.owner)),
]


@dataclasses.dataclass(frozen=True)
class StorageCell:
    cell: Cell
    ctx: Ctx
    action: Action  # what the runner does
    run: Runner
    judged: tuple[Action, ...]  # what the model is asked; the cell is allowed if all are
    call: str = ""


def storage_cases(cases: Iterable[Case] = ()) -> list[Case]:
    """The matrix cases on storage objects (of `cases`, default every matrix case)."""
    return [c for c in (cases or CASES) if c.table.startswith("objects:")]


def unaccounted(cases: Iterable[Case] = ()) -> list[str]:
    """Storage cases with neither an HTTP form nor a declared reason for having none."""
    return [f"{c.table} {c.op} {c.name}" for c in storage_cases(cases)
            if (c.op, c.name) not in FORMS and (c.op, c.name) not in NO_HTTP_FORM]


def stale_declarations(cases: Iterable[Case] = ()) -> list[str]:
    """Forms and declarations naming a case the matrix no longer has."""
    present = {(c.op, c.name) for c in storage_cases(cases)}
    return [f"{op} {name}" for op, name in [*FORMS, *NO_HTTP_FORM] if (op, name) not in present]


def unoffered(offered: frozenset[str]) -> dict[str, str]:
    """The forms left out on a target lacking a feature: form call -> why."""
    forms = [*FORMS.values(), *(e.form for e in HTTP_ONLY)]
    return {f.call: FEATURES[f.needs] for f in forms if f.needs and f.needs not in offered}


def storage_cells(mw: MatrixWorld, privacies: tuple[Privacy, ...] = tuple(Privacy),
                  actors: tuple[str, ...] = ACTORS,
                  offered: frozenset[str] = frozenset(FEATURES)) -> Iterator[StorageCell]:
    """Every storage cell with an HTTP form the target offers: the matrix's object cases, then
    the HTTP-only ones on the objects the matrix reads, per actor and owner privacy."""
    for cell, ctx, case in cells(mw):
        if not cell.table.startswith("objects:"):
            continue
        key = (case.op, case.name)
        form = FORMS.get(key)
        if form is None:
            if key in NO_HTTP_FORM:
                continue
            raise LookupError(f"no HTTP form for matrix case {cell.table} {case.op} {case.name}"
                              " (give it one in workload/storage_forms.py, or declare why none)")
        if ctx.privacy not in privacies or ctx.actor not in actors:
            continue
        action = case.build(ctx)
        if not form.needs or form.needs in offered:
            yield StorageCell(cell, ctx, action, form.run, (action,), form.call)
        if case.op is Op.SELECT:
            yield from _extras(cell, ctx, action, offered)


def _extras(cell: Cell, ctx: Ctx, read: Action, offered: frozenset[str]) -> Iterator[StorageCell]:
    obj = read.target
    assert isinstance(obj, StoredObject)
    for extra in HTTP_ONLY:
        if extra.form.needs and extra.form.needs not in offered:
            continue
        action, judged = extra.build(ctx, obj)
        yield StorageCell(dataclasses.replace(cell, op=extra.op, case=extra.name), ctx, action,
                          extra.form.run, judged, extra.form.call)
