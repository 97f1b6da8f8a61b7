"""SureCart: `GET https://api.surecart.com/v1/refunds/{id}`, Bearer API token."""
