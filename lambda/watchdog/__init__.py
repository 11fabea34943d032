"""The payer's watchdog: records every guard's heartbeat, mails when one stops or reports errors."""
