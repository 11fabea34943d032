"""The payer's quarantine Lambda: attaches or detaches a member account's quarantine SCP."""
