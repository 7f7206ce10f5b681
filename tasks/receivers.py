"""How the tasks app reacts to its own signals: project events become webhook deliveries.

Receivers run inside the transaction that sent the signal, so a delivery exists exactly when
the change that caused it was committed.
"""

from django.dispatch import receiver

from . import webhooks
from .signals import batch_ingested, item_completed, project_completed


@receiver(batch_ingested, dispatch_uid="tasks.webhooks.batch_ingested")
def announce_batch_ingested(sender, batch, **kwargs) -> None:
    webhooks.batch_ingested(batch)


@receiver(item_completed, dispatch_uid="tasks.webhooks.item_completed")
def announce_item_completed(sender, item, **kwargs) -> None:
    webhooks.item_completed(item)


@receiver(project_completed, dispatch_uid="tasks.webhooks.project_completed")
def announce_project_completed(sender, project, **kwargs) -> None:
    webhooks.project_completed(project)
