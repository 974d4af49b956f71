"""`compare`: is a day shaped like a reference day (runbook 1.6.2); exit 2 when a series differs."""

from __future__ import annotations

import sys
from typing import Any

import click

from aurumplan.cli.app import Obj, cli, echo_json, handle_errors, pass_obj
from aurumplan.cli.lazyapi import api


class _BadUsage(click.UsageError):
    exit_code = 1


class _BadInputExitsOne(click.Command):
    """Usage errors exit 1 here: 2 is this command's answer "a series differs"."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise _BadUsage(exc.format_message(), exc.ctx) from None


@cli.command(cls=_BadInputExitsOne)
@click.option("--source", required=True, help="source name from the catalog, e.g. eia")
@click.option("--dataset", required=True, help="dataset of the source, e.g. ELEC.DEMAND")
@click.option("--reference", "--reference-date", "reference", required=True, metavar="DATE",
              help="the day taken as the expected pattern, YYYY-MM-DD (UTC)")
@click.option("--against", "--comparison-date", "against", required=True, metavar="DATE",
              help="the day compared with it, YYYY-MM-DD (UTC)")
@click.option("--series", multiple=True,
              help="comma-separated series to compare (default: every series with values on either date)")
@click.option("--min-correlation", type=float, default=lambda: api.PATTERN_LIMITS.min_correlation, show_default="0.8",
              help="a lower Pearson correlation of the two days' shapes differs")
@click.option("--max-mean-diff", type=float, default=lambda: api.PATTERN_LIMITS.max_mean_diff, show_default="0.2",
              help="a larger relative change of the mean differs (0.2 = ±20%)")
@click.option("--max-peak-diff", type=float, default=lambda: api.PATTERN_LIMITS.max_peak_diff, show_default="0.25",
              help="a larger relative change of the peak (maximum) differs")
@click.option("--json", "as_json", is_flag=True, help="print the figures as JSON")
@pass_obj
@handle_errors
def compare(obj: Obj, source: str, dataset: str, reference: str, against: str, series: tuple[str, ...],
            min_correlation: float, max_mean_diff: float, max_peak_diff: float, as_json: bool) -> None:
    """Per series: shape correlation, mean and peak difference of two days; exit 2 if any differs or is missing."""
    names = [v.strip() for value in series for v in value.split(",") if v.strip()]
    limits = api.PatternLimits(min_correlation, max_mean_diff, max_peak_diff)
    out: dict[str, Any] = api.compare(obj.ctx, source, dataset, reference, against, series=names, limits=limits)
    if as_json:
        echo_json(out)
    else:
        click.echo(api.render_patterns(out))
    if not out["ok"]:
        sys.exit(2)
