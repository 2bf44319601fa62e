"""Web pages served beside the UI and the API: the 原文 view and the 版本对比 view."""
