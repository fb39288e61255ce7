# Import TapFlow dependencies
from tapflow.lib import *
from tapflow.cli.cli import init

# Initialize configuration settings
init()

# Create a data flow task
orderFlow = Flow("Order_SingleView_Sync")

# Specify the main table ecom_orders
orderFlow.read_from("MySQL_ECommerce.ecom_orders")

# Join the customer information table
orderFlow.lookup("MySQL_ECommerce.ecom_customers",
                 path="customer_info",
                 type="object",
                 relation=[["customer_id", "customer_id"]])

# Join the payment information table
orderFlow.lookup("MySQL_ECommerce.ecom_order_payments",
                 path="order_payments",
                 type="array",
                 relation=[["order_id", "order_id"]])

# Join the order items table
orderFlow.lookup("MySQL_ECommerce.ecom_order_items",
                 path="order_items",
                 type="array",
                 relation=[["order_id", "order_id"]])

# Join the product information table
orderFlow.lookup("MySQL_ECommerce.ecom_products",
                 path="order_items.product",
                 type="object",
                 relation=[["order_items.product_id","product_id"]])

# Join the seller information table
orderFlow.lookup("MySQL_ECommerce.ecom_sellers",
                 path="order_items.seller",
                 type="object",
                 relation=[["order_items.seller_id", "seller_id"]])

# Specify the target collection
orderFlow.write_to("MongoDB_ECommerce.orderSingleView")

# Save and start the task
orderFlow.save()
orderFlow.start()
print("Real-time wide-table task has started.")

# Monitor the task status
while True:
    status = orderFlow.status()
    if status == "running":
        print(f"Task status: {status}")
        break
    elif status == "error":
        print("Task failed to start. Please check the configuration or logs.")
        break
