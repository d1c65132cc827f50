from flask import Flask, request, jsonify
import logging

app = Flask(__name__)
logging.basicConfig(level=logging.INFO)

@app.route('/webhooks/cron-success', methods=['POST'])
def handle_cron_success():
    data = request.json
    
    logging.info(f"✅ Cron job '{data['cron_job_name']}' executed successfully")
    logging.info(f"Execution ID: {data['execution_id']}")
    logging.info(f"Response: {data['response_body']}")
    
    # Process the successful execution
    # e.g., update database, send notifications, etc.
    
    return jsonify({"received": True}), 200

@app.route('/webhooks/cron-failure', methods=['POST'])
def handle_cron_failure():
    data = request.json
    
    logging.error(f"❌ Cron job '{data['cron_job_name']}' failed")
    logging.error(f"Status: {data['status']}")
    logging.error(f"Error: {data['error_message']}")
    logging.error(f"Retry attempt: {data['retry_attempt']}")
    
    if data.get('next_retry_at'):
        logging.info(f"Next retry at: {data['next_retry_at']}")
    else:
        logging.error('No more retries scheduled')
        # Send alert to team
        send_alert_to_team(data)
    
    return jsonify({"received": True}), 200

def send_alert_to_team(data):
    # Implement your alerting logic here
    pass

if __name__ == '__main__':
    app.run(port=3000)
