"""The CRM: domain models, services, back office (Flask-AppBuilder) and billing API."""
