from django_jobs import job


# At most one sync per store runs at a time, on all workers together.
@job(concurrency_limit=1)
def sync_store(store_id: int) -> None:
    print(f"syncing store {store_id}")


def sync_soon(store_id: int):
    # The key names the group whose jobs share the limit: here, one store.
    return sync_store.using(concurrency_key=f"store-{store_id}").enqueue(store_id)


# At most three exports run at once in total: without a key, the task is one group.
@job(concurrency_limit=3)
def export_orders(month: str) -> None:
    print(f"exporting {month}")


def export_for_big_customer(month: str):
    # One enqueue may give its own limit for its key: this customer gets two at a time.
    task = export_orders.using(concurrency_key="export-acme", concurrency_limit=2)
    return task.enqueue(month)
