"""All domain models; importing this package registers every table on the metadata."""
from crm.models.access import ContractAccess, ContractRole, contract_access_object  # noqa: F401
from crm.models.appeal import (  # noqa: F401
    Appeal,
    AppealAttachment,
    AppealDraft,
    AppealEvent,
    AppealMessage,
    AssignmentRule,
    CannedReply,
    assignment_rule_user,
)
from crm.models.audit import AuditLog  # noqa: F401
from crm.models.billing import (  # noqa: F401
    BillingDocument,
    DocumentType,
    Payment,
    PaymentIntent,
    PaymentKind,
    PaymentStatus,
    SaleKind,
    SavedCard,
)
from crm.models.catalog import (  # noqa: F401
    ContactQuestion,
    FaqGroup,
    FaqItem,
    HelpPage,
    News,
    NewsRead,
    Service,
    ServiceOrder,
)
from crm.models.contract import (  # noqa: F401
    MAX_CONTACT_PERSONS,
    ContactPerson,
    Contract,
    ContractEmail,
    ContractKind,
    ContractStatus,
    PaymentTerm,
    PaymentTermKind,
    Tariff,
    contract_curator,
)
from crm.models.counterparty import Branch, Counterparty, Curator, PersonType  # noqa: F401
from crm.models.household import House  # noqa: F401
from crm.models.integration import ApiToken, BackgroundTask, TaskStatus  # noqa: F401
from crm.models.metering import (  # noqa: F401
    Direction,
    EnergyObject,
    InputStatus,
    IntervalProfile,
    Meter,
    MeteringPoint,
    Reading,
    ReadingSource,
    ReadingsReminder,
    ReadingStatus,
    ReadingsWindow,
    Register,
    TariffZone,
)
from crm.models.notification import (  # noqa: F401
    Notification,
    NotificationAttachment,
    NotificationDelivery,
    NotificationKind,
)
from crm.models.outbox import EmailOutbox, OutboxStatus  # noqa: F401
from crm.models.user import (  # noqa: F401
    CUSTOMER_ROLE,
    STAFF_ROLES,
    CrmUser,
    OneTimeCode,
    SystemSetting,
    UserSession,
)
from crm.models.workflow import (  # noqa: F401
    AppealTopic,
    EventTemplate,
    FormDefinition,
    FormField,
    FormStep,
    WorkflowDefinition,
    WorkflowState,
    WorkflowTransition,
)
