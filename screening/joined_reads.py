"""select_related by hand: one row through a chain of joins, written out as SQL once and
run as a prepared statement, made into the model instances the ORM would make.

For the reads that open the busiest pages (a patient's screening on every wizard page,
a treatment session on the session page), the ORM took longer to build a join of seven
to eleven tables than PostgreSQL took to run it, and PostgreSQL longer to plan it than
to run it (`make bench`). A `JoinedRead` names its root model and the relations to follow
(as select_related does); it selects every concrete column of every model in the chain,
passes each value through its field's own converters (what SQLCompiler does), builds
each instance with Model.from_db and sets the related caches as select_related sets them,
so the rest of the code reads the instances as it would the ORM's. The SQL is built once
per database and prepared once per connection (screening/prepared.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, ForeignKey, Model, OneToOneField, OneToOneRel

from . import prepared


def converters_for(connection: BaseDatabaseWrapper, field: Field, alias: str) -> list:
    """What the ORM does to a column's value read from this database (the backend's, then
    the field's own converters, as SQLCompiler.get_converters finds them), with the column
    expression each is called with."""
    expression = field.get_col(alias)
    found = connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)
    return [(convert, expression) for convert in found]


def convert(value: object, converters: list, connection: BaseDatabaseWrapper) -> object:
    for one_converter, expression in converters:
        value = one_converter(value, expression, connection)
    return value


@dataclass(frozen=True)
class _Table:
    """One model in the join: how it hangs from its parent, and its alias in the SQL."""

    path: str  # "" for the root, else relation names joined by "__"
    model: type[Model]
    alias: str
    parent: _Table | None
    relation: ForeignKey | OneToOneField | OneToOneRel | None
    outer: bool  # LEFT JOIN: the row may be missing

    def column_alias(self, field: Field) -> str:
        return f"{self.alias}_{field.column}"


# SQL written against the join: given the database's quote_name and the alias of each
# followed relation's table (by its path; "" is the root), the text of a condition or a
# column, with %s for its parameters.
SqlWriter = Callable[[Callable[[str], str], Callable[[str], str]], str]


def any_row_of(model: type[Model], field_name: str) -> SqlWriter:
    """EXISTS: whether any row of `model` points at the root row by its `field_name`."""

    def write(quote: Callable[[str], str], alias_of: Callable[[str], str]) -> str:
        meta = model._meta
        field = meta.get_field(field_name)
        return (
            f"EXISTS (SELECT 1 FROM {quote(meta.db_table)} e "  # noqa: S608
            f"WHERE e.{quote(field.column)} = {alias_of('')}.{quote(field.target_field.column)})"
        )

    return write


# `Extra.vendors` for an expression written in PostgreSQL's SQL.
ON_POSTGRESQL = frozenset({"postgresql"})


@dataclass(frozen=True)
class Extra:
    """One more value of the row (an SQL expression), and the field whose converters read
    it (None: as the database gives it). With `vendors`, only on those databases: elsewhere
    the value is None."""

    name: str
    sql: SqlWriter
    field: Field | None = None
    vendors: frozenset[str] | None = None

    def on(self, connection: BaseDatabaseWrapper) -> bool:
        return self.vendors is None or connection.vendor in self.vendors


class JoinedRead:
    """One row of `model` with `relations` followed (as select_related names them), found by
    `where`; `extras` are more values of the row."""

    def __init__(
        self,
        name: str,
        model: type[Model],
        relations: tuple[str, ...],
        *,
        where: SqlWriter,
        extras: tuple[Extra, ...] = (),
    ) -> None:
        self.name = name  # the prepared statement's name
        self.model = model
        self.relations = relations
        self.where = where
        self.extras = extras

    @cached_property
    def tables(self) -> list[_Table]:
        root = _Table("", self.model, "t0", None, None, outer=False)
        tables = {"": root}
        for path in self.relations:
            names = path.split("__")
            for depth in range(1, len(names) + 1):
                sub_path = "__".join(names[:depth])
                if sub_path in tables:
                    continue
                parent = tables["__".join(names[: depth - 1])]
                relation = parent.model._meta.get_field(names[depth - 1])
                if isinstance(relation, OneToOneRel):
                    outer = True  # a reverse one-to-one may have no row
                elif isinstance(relation, ForeignKey):
                    outer = parent.outer or relation.null
                else:
                    raise ValueError(f"{sub_path}: only foreign keys and one-to-ones are followed")
                tables[sub_path] = _Table(
                    sub_path,
                    relation.related_model,
                    f"t{len(tables)}",
                    parent,
                    relation,
                    outer,
                )
        return list(tables.values())

    def _sql(self, connection: BaseDatabaseWrapper) -> tuple[str, dict[str, list]]:
        """The statement for this database, and the converters of each column needing any."""
        quote = connection.ops.quote_name
        aliases = {table.path: table.alias for table in self.tables}
        selected, converters = [], {}
        for table in self.tables:
            for field in table.model._meta.concrete_fields:
                name = table.column_alias(field)
                selected.append(f"{table.alias}.{quote(field.column)} AS {name}")
                if found := converters_for(connection, field, table.alias):
                    converters[name] = found
        for extra in self.extras:
            if not extra.on(connection):
                selected.append(f"NULL AS {extra.name}")
                continue
            selected.append(f"{extra.sql(quote, aliases.__getitem__)} AS {extra.name}")
            if extra.field is not None and (found := converters_for(connection, extra.field, "x")):
                converters[extra.name] = found
        joins = []
        for table in self.tables[1:]:
            parent, relation = table.parent, table.relation
            if isinstance(relation, OneToOneRel):
                # The child holds the key: child.fk = parent.pk.
                on = (
                    f"{table.alias}.{quote(relation.field.column)} = "
                    f"{parent.alias}.{quote(parent.model._meta.pk.column)}"
                )
            else:
                on = (
                    f"{table.alias}.{quote(table.model._meta.pk.column)} = "
                    f"{parent.alias}.{quote(relation.column)}"
                )
            kind = "LEFT OUTER JOIN" if table.outer else "INNER JOIN"
            joins.append(f"{kind} {quote(table.model._meta.db_table)} {table.alias} ON {on}")
        # Names from the models' metadata, quoted; every value is a parameter.
        sql = (
            f"SELECT {', '.join(selected)} "  # noqa: S608
            f"FROM {quote(self.model._meta.db_table)} t0 {' '.join(joins)} "
            f"WHERE {self.where(quote, aliases.__getitem__)}"
        )
        return sql, converters

    def _statement(self, connection: BaseDatabaseWrapper) -> tuple[str, dict[str, list]]:
        cache = self.__dict__.setdefault("_statements", {})
        key = (connection.alias, connection.vendor)
        if key not in cache:
            cache[key] = self._sql(connection)
        return cache[key]

    def one(self, params: list) -> tuple[Model, dict[str, object]] | None:
        """The root instance with its relations cached, and the extras' values; None when
        no row matches. `params` go to the database as given (prepare_value for keys)."""
        connection = connections[router.db_for_read(self.model)]
        sql, converters = self._statement(connection)
        with connection.cursor() as cursor:
            prepared.execute(cursor, self.name, sql, params)
            row = cursor.fetchone()
            names = [column[0] for column in cursor.description]
        if row is None:
            return None
        values = dict(zip(names, row, strict=True))
        for name, name_converters in converters.items():
            values[name] = convert(values[name], name_converters, connection)
        instances: dict[str, Model | None] = {}
        for table in self.tables:
            instances[table.path] = self._instance(table, values, connection)
        for table in self.tables[1:]:
            parent, child = instances[table.parent.path], instances[table.path]
            if parent is None:
                continue
            if isinstance(table.relation, OneToOneRel):
                # As select_related leaves it: a missing row is known to be missing.
                table.relation.set_cached_value(parent, child)
                if child is not None:
                    table.relation.field.set_cached_value(child, parent)
            else:
                table.relation.set_cached_value(parent, child)
        return instances[""], {extra.name: values[extra.name] for extra in self.extras}

    @staticmethod
    def _instance(table: _Table, values: dict, connection: BaseDatabaseWrapper) -> Model | None:
        fields = table.model._meta.concrete_fields
        if values[table.column_alias(table.model._meta.pk)] is None:
            return None  # a LEFT JOIN that found no row
        return table.model.from_db(
            connection.alias,
            [field.attname for field in fields],
            [values[table.column_alias(field)] for field in fields],
        )


def prepare_value(model: type[Model], value: object) -> object:
    """A primary key of `model` as the database takes it."""
    connection = connections[router.db_for_read(model)]
    return model._meta.pk.get_db_prep_value(value, connection)
