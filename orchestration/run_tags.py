"""Run tags the nightly job sets (shared by the assets and the in-process runner)."""

# On a run that found nothing new: the id of the run whose published file still stands.
NOTHING_NEW_TAG = "closedloop/nothing_new_since"
