from django.tasks import default_task_backend


def receipt_status(result_id):
    result = default_task_backend.get_result(result_id)  # or send_receipt.get_result(result_id)
    result.refresh()  # reload an existing result
    return result.status


async def areceipt_status(result_id):
    result = await default_task_backend.aget_result(result_id)  # the async twins work too
    await result.arefresh()
    return result.status
