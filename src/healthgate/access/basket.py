"""The basket: datasets a signed-in researcher collects, from one custodian or several, to apply for together.

Every change is audited; "apply for these together" starts one draft application (``service.create``) for the
basket's datasets and empties the basket in the same transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import delete, func, select

from healthgate.access import labels
from healthgate.access import service as applications
from healthgate.access.models import Application, BasketItem
from healthgate.audit import service as audit
from healthgate.context import Context
from healthgate.errors import FieldError, Invalid

MAX_ITEMS = applications.MAX_DATASETS


@dataclass(frozen=True)
class Group:
    """The basket's datasets of one custodian team."""

    team_id: uuid.UUID
    team_name: str
    datasets: tuple[labels.DatasetLabel, ...]


def _ids(ctx: Context, user_id: uuid.UUID) -> list[uuid.UUID]:
    return list(ctx.session.scalars(select(BasketItem.dataset_id).where(BasketItem.user_id == user_id)
                                    .order_by(BasketItem.added_at, BasketItem.dataset_id)))


def add(ctx: Context, dataset_id: uuid.UUID) -> bool:
    """Put a public dataset in the basket; False when it was already there."""
    me = applications.user_id_of(ctx)
    applications._datasets(ctx, [dataset_id], "dataset")  # public datasets only (422 naming the dataset)
    if ctx.session.get(BasketItem, (me, dataset_id)) is not None:
        return False
    if count(ctx) >= MAX_ITEMS:
        raise Invalid("the basket is full", [FieldError("dataset", f"at most {MAX_ITEMS} datasets in a basket")])
    ctx.session.add(BasketItem(user_id=me, dataset_id=dataset_id, added_at=ctx.now()))
    ctx.session.flush()
    audit.record(ctx, "basket.item_added", "dataset", dataset_id, {"user_id": str(me)})
    return True


def remove(ctx: Context, dataset_id: uuid.UUID) -> bool:
    """Take a dataset out of the basket; False when it was not there."""
    me = applications.user_id_of(ctx)
    gone = ctx.session.execute(delete(BasketItem).where(BasketItem.user_id == me,
                                                        BasketItem.dataset_id == dataset_id))
    if not gone.rowcount:  # type: ignore[attr-defined]
        return False
    audit.record(ctx, "basket.item_removed", "dataset", dataset_id, {"user_id": str(me)})
    return True


def clear(ctx: Context) -> int:
    """Empty the basket; how many datasets it held."""
    me = applications.user_id_of(ctx)
    ids = _ids(ctx, me)
    if not ids:
        return 0
    ctx.session.execute(delete(BasketItem).where(BasketItem.user_id == me))
    audit.record(ctx, "basket.cleared", "user", me, {"datasets": [str(i) for i in ids]})
    return len(ids)


def dataset_ids(ctx: Context) -> list[uuid.UUID]:
    """The basket's datasets, in the order they were added."""
    return _ids(ctx, applications.user_id_of(ctx))


def count(ctx: Context) -> int:
    me = applications.user_id_of(ctx)
    return int(ctx.session.scalar(select(func.count()).select_from(BasketItem).where(BasketItem.user_id == me))
               or 0)


def contains(ctx: Context, dataset_id: uuid.UUID) -> bool:
    me = applications.user_id_of(ctx)
    return ctx.session.get(BasketItem, (me, dataset_id)) is not None


def groups(ctx: Context) -> list[Group]:
    """The basket's datasets grouped by custodian team (teams in the order their first dataset was added)."""
    ids = dataset_ids(ctx)
    found = labels.datasets(ctx, ids)
    out: dict[uuid.UUID, list[labels.DatasetLabel]] = {}
    names: dict[uuid.UUID, str] = {}
    for i in ids:
        label = found.get(i)
        if label is None:
            continue
        out.setdefault(label.team_id, []).append(label)
        names[label.team_id] = label.team_name
    return [Group(team_id=t, team_name=names[t], datasets=tuple(ds)) for t, ds in out.items()]


def apply(ctx: Context, *, title: str = "") -> Application:
    """One draft application for every dataset in the basket, which is then emptied."""
    ids = dataset_ids(ctx)
    if not ids:
        raise Invalid("the basket is empty", [FieldError("basket", "add datasets to your basket first")])
    application = applications.create(ctx, ids, title=title)
    clear(ctx)
    return application
