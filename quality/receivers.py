"""How quality reacts to the work loop. Receivers run inside the transaction that sent the
signal, so a gold score, a raised overlap or a rule's action commits with the answer that
caused it, or not at all."""

from django.dispatch import receiver

from tasks.signals import annotation_submitted

from . import submission


@receiver(annotation_submitted, dispatch_uid="quality.check_submission")
def check_submission(sender, annotation, reached_overlap=True, **kwargs) -> None:
    submission.check_submission(annotation, reached_overlap=reached_overlap)
