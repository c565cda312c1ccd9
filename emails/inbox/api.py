"""/v1/conversations: the team inbox over the API (list, read, reply, status and assignee, notes)."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import ApiToken
from accounts.permissions import request_account
from accounts.scoping import AccountScopedMixin
from config.api.pagination import CursorPagination
from config.api.schema import common_responses, unprocessable
from config.api.serializers import StrictSerializer
from emails.inbox import examples, selectors, services
from emails.inbox.filters import ConversationFilter
from emails.inbox.models import Conversation, ConversationNote, InboxAttachment, InboxMessage
from emails.inbox.services.conversations import UNSET, member_by_email
from emails.inbox.threads import reply_address


class AttachmentSerializer(serializers.ModelSerializer[InboxAttachment]):
    kept = serializers.SerializerMethodField(help_text="Whether Sesame kept the content (see note when not).")

    class Meta:
        model = InboxAttachment
        fields = ("id", "filename", "content_type", "size_bytes", "inline", "kept", "note")

    def get_kept(self, attachment: InboxAttachment) -> bool:
        return not attachment.note


class MessageSerializer(serializers.ModelSerializer[InboxMessage]):
    sender = serializers.CharField(source="from_address", help_text="From, as received or sent.")
    html = serializers.CharField(source="html_sanitized", help_text="The HTML body, sanitised for display.")
    attachments = AttachmentSerializer(many=True)
    email_status = serializers.SerializerMethodField(help_text="For a reply: the status of the email carrying it.")

    class Meta:
        model = InboxMessage
        fields = (
            "id", "direction", "kind", "sender", "to", "cc", "subject", "text_body", "html", "message_id",
            "in_reply_to", "references", "verdicts", "flags", "flagged", "error", "attachments", "email_id",
            "email_status", "occurred_at",
        )  # fmt: skip

    def get_email_status(self, message: InboxMessage) -> str | None:
        return message.email.status if message.email is not None else None

    def to_representation(self, instance: InboxMessage) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["from"] = data.pop("sender")  # `from` is a Python keyword
        return {key: data[key] for key in ["id", "direction", "kind", "from", *list(data)[4:]] if key in data}


class NoteSerializer(serializers.ModelSerializer[ConversationNote]):
    author = serializers.SerializerMethodField()

    class Meta:
        model = ConversationNote
        fields = ("id", "author", "body", "created_at")

    def get_author(self, note: ConversationNote) -> str:
        return note.author_name


class ConversationSerializer(serializers.ModelSerializer[Conversation]):
    contact = serializers.IntegerField(source="contact_id", allow_null=True)
    assignee = serializers.SerializerMethodField(help_text="The assigned member's email, or null.")
    message_count = serializers.IntegerField(read_only=True)
    reply_address = serializers.SerializerMethodField(help_text="Mail to it always joins this conversation.")

    class Meta:
        model = Conversation
        fields: tuple[str, ...] = (
            "id", "status", "snoozed_until", "subject", "correspondent", "correspondent_email", "team_address",
            "reply_address", "contact", "assignee", "flagged", "message_count", "last_message_at", "created_at",
        )  # fmt: skip

    def get_assignee(self, conversation: Conversation) -> str | None:
        return conversation.assignee.email if conversation.assignee is not None else None

    def get_reply_address(self, conversation: Conversation) -> str:
        return reply_address(conversation, conversation.team_address.split("@")[-1])


class ConversationDetailSerializer(ConversationSerializer):
    messages = MessageSerializer(many=True)
    notes = NoteSerializer(many=True)

    class Meta(ConversationSerializer.Meta):
        fields = (*ConversationSerializer.Meta.fields, "messages", "notes")


class ConversationUpdateSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=Conversation.Status.choices, required=False)
    snoozed_until = serializers.DateTimeField(required=False, allow_null=True, help_text='With "status": "snoozed".')
    assignee = serializers.EmailField(required=False, allow_null=True, help_text="A member's email; null unassigns.")


class ReplySerializer(StrictSerializer):
    text_body = serializers.CharField(allow_blank=True, trim_whitespace=False)
    html_body = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)


class NoteCreateSerializer(StrictSerializer):
    body = serializers.CharField(trim_whitespace=False)


class ConversationPagination(CursorPagination):
    ordering = ("-last_message_at", "-pk")


def _token_name(request: Request) -> str:
    token = request.auth
    return f"API token “{token.name}”" if isinstance(token, ApiToken) else "API"


@extend_schema_view(
    list=extend_schema(
        summary="List conversations",
        description="The team inbox: conversations with the newest message first. Filter by `status` (repeat for "
        "several), `assignee` (a member's email, or `none`), `flagged`, and `q`: text in an address, a subject or "
        "any message.",
        responses={200: ConversationSerializer(many=True), **common_responses()},
        examples=[OpenApiExample("Page", value=examples.PAGE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One conversation with its messages and notes",
        description="Messages oldest first: received mail (with SES's spam, virus, SPF, DKIM and DMARC verdicts, "
        "`flags` when a check failed, sanitised HTML and attachments) and the team's replies (with the status "
        "of the email carrying each).",
        responses={200: ConversationDetailSerializer, **common_responses(with_not_found=True)},
        examples=[OpenApiExample("Conversation", value=examples.CONVERSATION_DETAIL, response_only=True)],
    ),
    partial_update=extend_schema(
        summary="Change a conversation's status or assignee",
        description="`status`: open, closed, or snoozed with `snoozed_until` (it opens again then, or when the "
        "correspondent writes). `assignee`: a member's email, or null.",
        request=ConversationUpdateSerializer,
        responses={
            200: ConversationSerializer,
            422: unprocessable(OpenApiExample("Not a member", value=examples.NOT_A_MEMBER)),
            **common_responses(with_not_found=True),
        },
        examples=[
            OpenApiExample("Assign", request_only=True, value={"assignee": "jon@acme.test"}),
            OpenApiExample(
                "Snooze", request_only=True, value={"status": "snoozed", "snoozed_until": "2026-12-01T09:00:00Z"}
            ),
            OpenApiExample("Close", request_only=True, value={"status": "closed"}),
            OpenApiExample("Conversation", value=examples.CONVERSATION, response_only=True),
        ],
    ),
)
class ConversationViewSet(
    AccountScopedMixin[Conversation], mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    scoped_model = Conversation
    filterset_class = ConversationFilter
    pagination_class = ConversationPagination
    http_method_names = ["get", "post", "patch"]

    def get_queryset(self) -> QuerySet[Conversation]:
        if getattr(self, "swagger_fake_view", False):
            return Conversation.objects.none()
        queryset = selectors.conversation_list(account=request_account(self.request))
        if self.action == "retrieve":
            return queryset.prefetch_related("messages__attachments", "messages__email", "notes")
        return queryset

    def get_serializer_class(self) -> Any:
        return ConversationDetailSerializer if self.action == "retrieve" else ConversationSerializer

    def _conversation(self) -> Conversation:
        conversation: Conversation = self.get_object()
        return conversation

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        conversation = self._conversation()
        payload = ConversationUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        assignee: Any = UNSET
        if "assignee" in data:
            assignee = (
                None if data["assignee"] is None else member_by_email(account_id=conversation.account_id,
                                                                      email=data["assignee"])
            )  # fmt: skip
        services.conversation_update(
            conversation=conversation,
            status=data.get("status", UNSET),
            snoozed_until=data.get("snoozed_until", UNSET),
            assignee=assignee,
        )
        return Response(ConversationSerializer(self.get_queryset().get(pk=conversation.pk)).data)

    @extend_schema(
        summary="Reply to a conversation",
        description="Sends `text_body` (and `html_body`) to the correspondent from the conversation's team address, "
        "as an email of the delivery engine at priority 1, with `In-Reply-To` and `References` naming the latest "
        "received message and Reply-To the conversation's reply address. Every rule of `POST /v1/emails` holds: "
        "the team address must be a verified identity, a suppressed correspondent is not sent to.",
        request=ReplySerializer,
        responses={
            201: MessageSerializer,
            422: unprocessable(
                OpenApiExample(
                    "Unverified team address",
                    value={
                        "detail": [
                            {
                                "loc": ["body"],
                                "msg": "the reply cannot be sent: support@acme.test is not a verified identity of "
                                "the AWS connection 'default'; verify the address or its domain in SES "
                                "(manage.py add_identity)",
                                "type": "value_error.unverified_sender",
                            }
                        ]
                    },
                )
            ),
            **common_responses(with_not_found=True),
        },
        examples=[
            OpenApiExample("Reply", value=examples.REPLY, request_only=True),
            OpenApiExample("Sent", value=examples.MESSAGE_OUT, response_only=True),
        ],
    )
    @action(detail=True, methods=["post"])
    def reply(self, request: Request, pk: str | None = None) -> Response:
        conversation = self._conversation()
        payload = ReplySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        message = services.conversation_reply(
            conversation=conversation,
            text_body=payload.validated_data["text_body"],
            html_body=payload.validated_data.get("html_body") or None,
        )
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["GET"],
        summary="A conversation's notes",
        responses={200: NoteSerializer(many=True), **common_responses(with_not_found=True)},
        examples=[OpenApiExample("Notes", value=[examples.NOTE], response_only=True)],
    )
    @extend_schema(
        methods=["POST"],
        summary="Add an internal note",
        description="Notes are for the team: never sent. The author is the calling token.",
        request=NoteCreateSerializer,
        responses={201: NoteSerializer, 422: unprocessable(), **common_responses(with_not_found=True)},
        examples=[
            OpenApiExample("Note", value={"body": "Customer is a VIP."}, request_only=True),
            OpenApiExample("Added", value=examples.NOTE, response_only=True),
        ],
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None, filterset_class=None)
    def notes(self, request: Request, pk: str | None = None) -> Response:
        conversation = self._conversation()
        if request.method == "GET":
            return Response(NoteSerializer(conversation.notes.all(), many=True).data)
        payload = NoteCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        note = services.conversation_note_add(
            conversation=conversation, body=payload.validated_data["body"], author_name=_token_name(request)
        )
        return Response(NoteSerializer(note).data, status=status.HTTP_201_CREATED)
