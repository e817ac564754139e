"""Data-sharing agreements (数据共享协议): who may receive which fields of which dataset, for what."""
