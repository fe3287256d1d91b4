"""Flags are kept as history and every submission keeps a snapshot (issue 12, items 5 and 6).

Flags gain `raised_at`, `retired_at` (null while current) and `replaces`; one current flag
per topic. An acknowledgement's flag is protected, so a note can never go with its flag.
`Submission` is an append-only snapshot of each submission. On PostgreSQL, triggers refuse
UPDATE and DELETE of acknowledgements and submissions, and DELETE of flags.

Screenings already submitted get a first snapshot from what is on file: their answers were
locked at submission, their flags are the last evaluation's, and the acknowledgements on
file were all written after it (the old re-evaluation deleted earlier ones), so none is in
the snapshot. A screening sent back to its patient (in progress, submitted before) gets no
snapshot (its answers may have changed since) but counts one submission, so its next one
is number 2 and shown as a resubmission, with its earlier answers unknown.
"""

import django.db.models.deletion
import django.db.models.manager
import django.utils.timezone
from django.db import migrations, models


APPEND_ONLY = {
    # table: the operations refused
    "screening_flagacknowledgement": "UPDATE OR DELETE",
    "screening_submission": "UPDATE OR DELETE",
    "screening_flag": "DELETE",
}


def snapshot_submitted_screenings(apps, schema_editor):
    database = schema_editor.connection.alias
    Screening = apps.get_model("screening", "Screening")
    Flag = apps.get_model("screening", "Flag")
    Answer = apps.get_model("screening", "Answer")
    Submission = apps.get_model("screening", "Submission")
    for screening in Screening.objects.using(database).filter(submitted_at__isnull=False):
        when = screening.evaluated_at or screening.submitted_at
        Flag.objects.using(database).filter(screening=screening).update(raised_at=when)
        if screening.status == "in_progress":
            Screening.objects.using(database).filter(pk=screening.pk).update(submission_count=1)
            continue
        answers = dict(
            Answer.objects.using(database)
            .filter(screening=screening)
            .values_list("question__code", "value")
        )
        flags = [
            {
                "code": flag.code,
                "severity": flag.severity,
                "title": flag.title,
                "evidence": flag.evidence,
                "acknowledgement": None,
            }
            for flag in Flag.objects.using(database)
            .filter(screening=screening)
            .order_by("position")
        ]
        Submission.objects.using(database).create(
            screening=screening,
            number=1,
            submitted_at=screening.submitted_at,
            answers=answers,
            flags=flags,
            level=screening.level,
            scores=screening.scores or [],
        )
        Screening.objects.using(database).filter(pk=screening.pk).update(submission_count=1)


def install_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, operations in APPEND_ONLY.items():
        schema_editor.execute(
            f"""
            CREATE OR REPLACE FUNCTION {table}_refuse_change() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{table} rows are kept as written: % refused', TG_OP;
            END;
            $$;
            CREATE TRIGGER {table}_kept
                BEFORE {operations} ON {table}
                FOR EACH ROW EXECUTE FUNCTION {table}_refuse_change();
            """,
            params=None,  # no placeholders: the % in the message is PL/pgSQL's
        )


def remove_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in APPEND_ONLY:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_kept ON {table}")
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {table}_refuse_change()")


class Migration(migrations.Migration):
    dependencies = [
        ("screening", "0013_page_drafts"),
    ]

    operations = [
        migrations.CreateModel(
            name="Submission",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("number", models.PositiveIntegerField()),
                ("submitted_at", models.DateTimeField()),
                ("answers", models.JSONField(default=dict)),
                ("flags", models.JSONField(default=list)),
                ("level", models.CharField(blank=True, max_length=20)),
                ("scores", models.JSONField(default=list)),
            ],
            options={
                "ordering": ["screening", "number"],
            },
        ),
        migrations.AlterModelOptions(
            name="flag",
            options={"base_manager_name": "with_retired", "ordering": ["screening", "position"]},
        ),
        migrations.AlterModelManagers(
            name="flag",
            managers=[
                ("objects", django.db.models.manager.Manager()),
                ("with_retired", django.db.models.manager.Manager()),
            ],
        ),
        migrations.RemoveConstraint(
            model_name="flag",
            name="one_flag_per_topic",
        ),
        migrations.AddField(
            model_name="flag",
            name="raised_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AddField(
            model_name="flag",
            name="replaces",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="replaced_by",
                to="screening.flag",
            ),
        ),
        migrations.AddField(
            model_name="flag",
            name="retired_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="screening",
            name="submission_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name="flagacknowledgement",
            name="flag",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="acknowledgement",
                to="screening.flag",
            ),
        ),
        migrations.AddConstraint(
            model_name="flag",
            constraint=models.UniqueConstraint(
                condition=models.Q(("retired_at__isnull", True)),
                fields=("screening", "code"),
                name="one_flag_per_topic",
            ),
        ),
        migrations.AddField(
            model_name="submission",
            name="in_reply_to",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="screening.decision",
            ),
        ),
        migrations.AddField(
            model_name="submission",
            name="screening",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="submissions",
                to="screening.screening",
            ),
        ),
        migrations.AddConstraint(
            model_name="submission",
            constraint=models.UniqueConstraint(
                fields=("screening", "number"), name="one_submission_per_number"
            ),
        ),
        migrations.AddConstraint(
            model_name="submission",
            constraint=models.CheckConstraint(
                condition=models.Q(("number__gte", 1)), name="submission_number_from_1"
            ),
        ),
        migrations.RunPython(snapshot_submitted_screenings, migrations.RunPython.noop),
        migrations.RunPython(install_triggers, remove_triggers),
    ]
