-- Insert customer information
INSERT INTO ecom_customers (customer_id, customer_unique_id, customer_zip_code_prefix, customer_city, customer_state)
VALUES ('CUST12345', 'UNIQUE_CUST_00123', '10001', 'New York', 'NY');
-- Insert order information
INSERT INTO ecom_orders (order_id, customer_id, order_status, order_purchase_timestamp, order_approved_at, order_estimated_delivery_date)
VALUES ('ORD789654', 'CUST12345', 'pending', NOW(), NOW(), '2024-11-10');
-- Insert order item information (includes product and seller details)
INSERT INTO ecom_order_items (order_id, order_item_id, product_id, seller_id, shipping_limit_date, price, freight_value)
VALUES ('ORD789654', 1, 'PROD56789', 'SELL34567', '2024-11-05', 199.99, 15.0);
-- Insert product information
INSERT INTO ecom_products (product_id, product_category_name, product_weight_g, product_length_cm, product_height_cm, product_width_cm)
VALUES ('PROD56789', 'electronics', 1200, 20, 10, 8);
-- Insert seller information
INSERT INTO ecom_sellers (seller_id, seller_zip_code_prefix, seller_city, seller_state)
VALUES ('SELL34567', '90001', 'Los Angeles', 'CA');
-- Insert payment information
INSERT INTO ecom_order_payments (order_id, payment_sequential, payment_type, payment_installments, payment_value)
VALUES ('ORD789654', 1, 'credit_card', 1, 199.99);
-- Update order status and shipping date
UPDATE ecom_orders
SET order_status = 'shipped', order_delivered_carrier_date = NOW()
WHERE order_id = 'ORD789654';
-- Update payment information to increase payment amount
UPDATE ecom_order_payments
SET payment_value = 220.0, payment_installments = 2
WHERE order_id = 'ORD789654' AND payment_sequential = 1;
-- Update order item details, such as price and freight cost
UPDATE ecom_order_items
SET price = 210.0, freight_value = 18.0
WHERE order_id = 'ORD789654' AND order_item_id = 1;
