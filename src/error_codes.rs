//! The catalogue of stable problem codes: every `code` the API can answer, at the top of a
//! problem (`code`) and for one bad field (`errors[].code`), with its meaning in Chinese and
//! English. Clients branch on these codes; the OpenAPI document lists them as an enum and
//! docs/API.md as a table generated from [`ErrorCode::markdown_table`].
//!
//! Call sites still pass codes as `&'static str`; `tests/architecture.rs` scans `src/` for
//! every code literal handed to a problem constructor and fails when one is missing here, and
//! the problem renderer logs a code it cannot find as a bug.

use serde::Serialize;
use utoipa::openapi::RefOr;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

macro_rules! error_codes {
    ($( $variant:ident = $code:tt, $zh:tt, $en:tt; )*) => {
        /// Stable machine-readable problem code. The meaning of each value is listed in
        /// docs/API.md ("Error codes") and in the OpenAPI schema; a client may branch on the
        /// value, never on `title` or `detail`. New codes may be added in later versions: treat
        /// an unknown one by its HTTP status.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        pub enum ErrorCode {
            $( #[serde(rename = $code)] $variant, )*
        }

        impl ErrorCode {
            /// Every code, in the order of the catalogue.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The code as it appears on the wire.
            pub const fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }

            /// What the code means, in Chinese.
            pub const fn meaning_zh(self) -> &'static str {
                match self { $(ErrorCode::$variant => $zh,)* }
            }

            /// What the code means, in English.
            pub const fn meaning_en(self) -> &'static str {
                match self { $(ErrorCode::$variant => $en,)* }
            }

            /// The catalogue entry of a wire code, if there is one.
            pub fn parse(code: &str) -> Option<ErrorCode> {
                match code {
                    $($code => Some(ErrorCode::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

error_codes! {
    // Requests, bodies, parameters, routes (HTTP level).
    BadRequest = "bad_request", "请求无法处理", "The request could not be processed";
    InvalidBody = "invalid_body", "请求体无法读取", "The request body could not be read";
    InvalidJson = "invalid_json", "请求体不是合法的 JSON", "The body is not valid JSON";
    InvalidQuery = "invalid_query", "查询参数有误（见 errors）", "A query parameter is invalid (see errors)";
    NotAnObject = "not_an_object", "应为 JSON 对象", "A JSON object was expected";
    UnsupportedMediaType = "unsupported_media_type", "不支持的内容类型", "The Content-Type is not supported";
    PayloadTooLarge = "payload_too_large", "请求体过大", "The body is too large";
    HeadersTooLarge = "headers_too_large", "请求头过大", "The request headers are too large";
    NotFound = "not_found", "资源不存在或不在您的权限范围内", "No such resource, or it is outside your scope";
    MethodNotAllowed = "method_not_allowed", "该路径不支持此方法（见 Allow 头）", "The method is not allowed on this path (see the Allow header)";
    RequestTimeout = "request_timeout", "请求超时", "The request timed out";
    LengthRequired = "length_required", "缺少 Content-Length", "Content-Length is required";
    UriTooLong = "uri_too_long", "URI 过长", "The URI is too long";
    RequestHeaderFieldsTooLarge = "request_header_fields_too_large", "请求头过大", "The request headers are too large";
    TooManyRequests = "too_many_requests", "请求过于频繁，请按 Retry-After 稍后重试", "Too many requests; retry after Retry-After seconds";
    ServiceUnavailable = "service_unavailable", "服务暂时不可用（如数据库繁忙），请稍后重试", "The service is temporarily unavailable (e.g. database contention); retry later";
    InternalError = "internal_error", "内部错误；凭请求编号可在日志中查到原因", "Internal error; the request id finds the cause in the log";
    StoredRecordUnreadable = "stored_record_unreadable", "存储的记录无法被本版本读取；详情中给出记录，需管理员修复", "A stored record cannot be read by this release; the detail names it for an administrator to repair";

    // Authentication and authorisation.
    MissingToken = "missing_token", "缺少访问令牌", "No access token was sent";
    InvalidToken = "invalid_token", "访问令牌无效", "The access token is invalid";
    TokenExpired = "token_expired", "访问令牌已过期，请重新登录", "The access token has expired; log in again";
    InvalidCredentials = "invalid_credentials", "用户名或密码错误", "Unknown user name or wrong password";
    TooManyLoginAttempts = "too_many_login_attempts", "登录失败次数过多，请稍后重试", "Too many failed logins; retry later";
    InvalidRequest = "invalid_request", "令牌请求有误（如客户端凭据以两种方式发送）", "A malformed token request (e.g. client credentials sent two ways)";
    InvalidClient = "invalid_client", "客户端不存在、密钥错误或已停用", "Unknown client, wrong secret or disabled client";
    InvalidGrant = "invalid_grant", "刷新令牌无效、已过期、已使用或已撤销，请重新登录", "The refresh token is invalid, expired, used up or revoked; log in again";
    UnauthorizedClient = "unauthorized_client", "客户端凭据只能用于 client_credentials 授权", "Client credentials go with the client_credentials grant only";
    UnsupportedGrantType = "unsupported_grant_type", "不支持的授权类型", "The grant type is not supported";
    InvalidScope = "invalid_scope", "请求的权限范围未知或超出该客户端的权限范围", "The scope asked for is unknown or not granted to the client";
    NoMappedRole = "no_mapped_role", "身份令牌中的角色均未映射到本服务的角色", "None of the identity token's roles maps to a role of this service";
    Forbidden = "forbidden", "无权执行此操作（缺少所需角色）", "Not allowed (a required role is missing)";
    NotOwnAgency = "not_own_agency", "下级机关的记录只能查阅，须由该机关人员办理", "Records of an agency below yours are read, not handled, here";
    InsufficientScope = "insufficient_scope", "客户端令牌缺少所需权限范围", "The client's token lacks the required scope";
    ClientNotAllowed = "client_not_allowed", "系统客户端不能调用此操作", "System clients may not call this operation";
    CannotLockOutSelf = "cannot_lock_out_self", "管理员不能停用自己或撤销自己的管理员角色", "An admin cannot disable itself or drop its own admin role";

    // Concurrency and idempotency.
    IfMatchRequired = "if_match_required", "此修改须带 If-Match（所读版本）", "This change needs If-Match with the version read";
    InvalidIfMatch = "invalid_if_match", "If-Match 格式有误", "If-Match is malformed";
    VersionMismatch = "version_mismatch", "记录已被修改，请重新读取后重试", "The record has changed since it was read";
    InvalidIdempotencyKey = "invalid_idempotency_key", "Idempotency-Key 格式有误", "The Idempotency-Key is malformed";
    IdempotencyKeyReused = "idempotency_key_reused", "该 Idempotency-Key 已用于另一请求体", "This Idempotency-Key was used with another body";
    IdempotencyRace = "idempotency_race", "同一 Idempotency-Key 的并发请求刚被应答（内部重试，通常不会返回）", "A concurrent retry with this key was just answered (retried internally; not normally answered)";

    // Validation: the whole request and each field.
    ValidationFailed = "validation_failed", "请求内容有误，逐项见 errors", "The request is invalid; each problem is in errors";
    Required = "required", "必填", "Required";
    RequiredTogether = "required_together", "这些字段须同时提供", "These fields go together";
    ContactRequired = "contact_required", "至少填写一种联系方式（电话、电子邮件或地址）", "Give at least one of phone, email or address";
    ConflictingFields = "conflicting_fields", "字段互相冲突（只能给出其一）", "Conflicting fields (give only one)";
    NotAllowed = "not_allowed", "此处不允许该字段或该值", "This field or value is not allowed here";
    TooLong = "too_long", "过长", "Too long";
    TooShort = "too_short", "过短", "Too short";
    TooMany = "too_many", "条目过多", "Too many items";
    TooWeak = "too_weak", "密码强度不足", "The password is too weak";
    InvalidCharacters = "invalid_characters", "含有不允许的字符（如控制字符）", "Contains characters that are not allowed (e.g. control characters)";
    InvalidFormat = "invalid_format", "格式有误", "Malformed value";
    InvalidValue = "invalid_value", "取值有误", "Invalid value";
    UnknownField = "unknown_field", "该字段不属于此请求（例如属于另一种办理步骤）", "The field is not part of this request (for example it belongs to another action)";
    BeforeSending = "before_sending", "收到日期早于发出日期", "The receipt date is before the letter was sent";
    AfterOn = "after_on", "日期晚于本步骤的日期（on）", "The date is after the step's date (on)";
    InvalidNumberPattern = "invalid_number_pattern", "发文字号格式有误：须含〔{year}〕和 {seq} 各一次", "The document-number pattern needs 〔{year}〕 and {seq} once each";
    BeforeReply = "before_reply", "送达日期早于答复日期", "The service date is before the reply";
    InvalidLength = "invalid_length", "长度有误", "Wrong length";
    InvalidBirthDate = "invalid_birth_date", "身份证号中的出生日期不存在", "The birth date inside the identity number is not a real date";
    InvalidCheckDigit = "invalid_check_digit", "校验码不符（可能输入有误）", "The check character does not match (typing error?)";
    InvalidNumber = "invalid_number", "应为数字", "A number was expected";
    InvalidUrl = "invalid_url", "不是合法的 URL", "Not a URL";
    HttpsRequired = "https_required", "接收地址须使用 https://", "The receiver must use https://";
    InternalReceiver = "internal_receiver", "推送接收地址是内部地址（回环、私有、链路本地等）", "The webhook receiver is an internal address (loopback, private, link-local, …)";
    OutOfRange = "out_of_range", "超出允许范围", "Out of the allowed range";
    InFuture = "in_future", "日期不能晚于今天", "The date must not be in the future";
    BeforeRegulation = "before_regulation", "日期早于《政府信息公开条例》施行之日（2008-05-01）", "The date is before the Regulation took effect (2008-05-01)";
    BeyondCalendar = "beyond_calendar", "日期超出工作日历的范围（至 2199-12-31）", "The date is beyond the working-day calendar (2199-12-31)";
    UnknownCode = "unknown_code", "未知代码", "Unknown code";
    UnknownRole = "unknown_role", "未知角色", "Unknown role";
    UnknownScope = "unknown_scope", "未知权限范围", "Unknown scope";
    UnknownEventType = "unknown_event_type", "未知事件类型", "Unknown event type";
    UnknownAgency = "unknown_agency", "机关不存在或不在您的权限范围内", "No such agency within your scope";
    UnknownRequest = "unknown_request", "无此申请或不在您的权限范围内", "No application with this id that you may see (or not of this agency)";
    SameRequest = "same_request", "申请不能引用其自身", "An application cannot refer to itself";
    UnknownReview = "unknown_review", "本机关无此行政复议", "No review of this agency has this id";
    UnknownRow = "unknown_row", "年报表格中无此行", "The report table has no such row";
    UnknownColumn = "unknown_column", "无此列", "No such column";
    InvalidCursor = "invalid_cursor", "不是本服务给出的游标（订阅源或列表的游标须原样传回）", "Not a cursor given by this service (pass a feed or list cursor back unchanged)";
    UnknownCursor = "unknown_cursor", "游标超前于订阅源（并非本服务给出）", "The cursor is ahead of the feed (not given by this service)";
    CursorSortMismatch = "cursor_sort_mismatch", "cursor 属于另一种排序：换排序时请从第一页开始", "The cursor belongs to another sort order: start again without a cursor when changing the sort";
    FromAfterTo = "from_after_to", "起始日期晚于截止日期", "The start date is after the end date";
    YearMismatch = "year_mismatch", "年份须与路径中的年份一致", "The year must equal the year in the path";
    UsernameTaken = "username_taken", "用户名已被占用", "The user name is taken";
    AgencyCodeTaken = "agency_code_taken", "机关代码已存在", "An agency with this code exists";
    ExternalReferenceTaken = "external_reference_taken", "本机关已有相同外部编号的申请", "This agency already has an application with this external reference";

    // Applications (政府信息公开申请): dates, workflow and the law's rules.
    InvalidTransition = "invalid_transition", "申请当前状态下不允许此操作", "The action is not allowed in the application's current state";
    ApplicationClosed = "application_closed", "已办结申请的登记信息不可修改", "A closed application's intake details cannot change";
    BeforeArrival = "before_arrival", "日期不能早于到达日期", "The date must not be before the arrival date";
    BeforeReceipt = "before_receipt", "日期不能早于收到申请之日", "The date must not be before the receipt date";
    BeforePreviousStep = "before_previous_step", "日期不能早于上一步骤", "The date must not be before the previous step";
    NotAfterOn = "not_after_on", "须晚于通知日期", "Must be after the notice date";
    NotAWorkingDay = "not_a_working_day", "须为工作日", "Must be a working day";
    InconsistentWithChannel = "inconsistent_with_channel", "收到日期与申请渠道的日期规则不符", "The receipt date does not follow from the channel's dates";
    ClockInconsistent = "clock_inconsistent", "期限无法依工作日历计算", "The deadline cannot be computed with the working-day calendar";
    CorrectionAlreadyRequested = "correction_already_requested", "补正只能要求一次（第三十条）", "A correction may be asked for only once (art. 30)";
    CorrectionWindowPassed = "correction_window_passed", "须在收到申请之日起 7 个工作日内要求补正（第三十条）", "A correction must be asked for within 7 working days of receipt (art. 30)";
    CorrectionNotReceived = "correction_not_received", "仅在补正之后才能以“仍不明确”答复", "\"Still unclear\" is possible only after a correction round";
    CorrectionDeadlineNotPassed = "correction_deadline_not_passed", "申请人的补正期限尚未届满", "The applicant's correction period has not ended";
    ConsultationWindowNotPassed = "consultation_window_not_passed", "征求第三方意见的 15 个工作日尚未届满", "The 15 working days of third-party consultation have not ended";
    ExtensionAlreadyUsed = "extension_already_used", "答复期限只能延长一次（第三十三条）", "The reply period may be extended only once (art. 33)";
    ExtensionTooLong = "extension_too_long", "延长不得超过 20 个工作日（第三十三条）", "An extension is at most 20 working days (art. 33)";
    ApproverRequired = "approver_required", "延期须经信息公开工作机构负责人（审批人）同意", "An extension is approved by the head of the disclosure office (approver)";
    DueDatePassed = "due_date_passed", "答复期限已过", "The due date has passed";
    YearNotOver = "year_not_over", "该年度尚未结束，年度报告须在次年方可发布", "The year is not over; its yearly report can be published from 1 January of the next year";
    PaymentWindowPassed = "payment_window_passed", "申请人的缴费期限已过，只能按逾期未缴费终止", "The applicant's payment period has ended; the application can only be closed as unpaid";
    FeeRulesNotInForce = "fee_rules_not_in_force", "收费办法自2021年1月1日起施行，此前不得收费", "The fee Measures apply from 2021-01-01; no fee before";
    ThirdPartyObjectionUnanswered = "third_party_objection_unanswered", "第三方提出异议，公开须载明公共利益理由并书面告知第三方", "A third party objected: disclosure needs the public-interest reason and the written notice to the third party";
    NoObjectionRecorded = "no_objection_recorded", "没有第三方提出异议", "No consulted third party objected";
    DeadlineAlreadyOverridden = "deadline_already_overridden", "答复期限已另行确定", "The reply period was already set by the office";
    OverrideNotLater = "override_not_later", "另行确定的答复期限须晚于法定期限（第三十五条）", "A reply period set for numerous applications must end after the statutory due date (art. 35)";
    FeeNoticeAlreadyIssued = "fee_notice_already_issued", "一件申请只能发出一次收费通知", "An application carries one fee notice";
    FeeNotChargeable = "fee_not_chargeable", "此申请不属于收费情形", "This application may not be charged a fee";
    FeeAboveMaximum = "fee_above_maximum", "收费金额超过《办法》规定的上限", "The fee is above the maximum of the Measures";
    PaymentAmountMismatch = "payment_amount_mismatch", "缴费金额与收费通知不符", "The payment differs from the fee notice";
    PaymentDeadlineNotPassed = "payment_deadline_not_passed", "申请人的缴费期限尚未届满", "The applicant's payment period has not ended";
    DispositionRequiresAction = "disposition_requires_action", "该答复类型须通过专门操作记录", "This disposition is recorded by its own action";
    DispositionRequiresReason = "disposition_requires_reason", "该答复类型须说明理由", "This disposition needs a reason";
    DispositionRequiresLegalBasis = "disposition_requires_legal_basis", "该答复类型须写明法律依据", "This disposition needs the legal basis";
    DispositionRequiresProvision = "disposition_requires_provision", "该答复类型须写明提供方式和日期", "This disposition records how and when the information is provided";

    // Documents on file (申请材料).
    UnsupportedDocumentType = "unsupported_document_type", "只接受 PDF、JPEG、PNG、OFD、DOCX 文件（按文件内容识别）", "Only PDF, JPEG, PNG, OFD and DOCX files are kept (recognised by their content)";
    UnknownDocument = "unknown_document", "本申请没有此材料", "No document of this application has this id";
    DocumentAlreadySuperseded = "document_already_superseded", "该材料已有新版本，只能替换最新版本", "The document already has a later version; supersede the latest one";

    // Administrative review and litigation (复议、诉讼).
    BeforeFiling = "before_filing", "日期不能早于立案日期", "The date must not be before the filing date";
    AfterFiling = "after_filing", "日期不能晚于立案日期", "The date must not be after the filing date";
    NotForLitigation = "not_for_litigation", "诉讼不适用该结果类型", "This outcome does not apply to litigation";
    ReviewNotDecided = "review_not_decided", "复议后起诉须以已决复议为前提", "A suit after review needs a decided review";
    ReviewHasSuits = "review_has_suits", "该复议之后已有诉讼，不能删除其决定", "A suit after this review exists; its decision cannot be removed";
    BeforeDecision = "before_decision", "送达日期早于复议决定日期", "The service date is before the decision";
    RequiresDecision = "requires_decision", "须先记录复议决定（decided_on）", "Record the decision (decided_on) first";
    ReviewFirstRequired = "review_first_required", "（警告）自2024年1月1日起，对不予公开的答复须先申请行政复议，本案为直接起诉", "(Warning) Since 2024-01-01 a refusal to disclose goes to review before a suit; this suit is direct";
    DecidedCaseRequiresCorrection = "decided_case_requires_correction", "已决案件只能通过更正修改（须给出更正理由）", "A decided case changes only through a correction (send correction_reason)";

    // Notices (告知书) and the findings of their check.
    NoticeHasErrors = "notice_has_errors", "告知书存在须更正的问题（见 findings），不能提交、批准或签发", "The notice has error findings: it cannot be submitted, approved or issued";
    ActWithoutNotice = "act_without_notice", "（警告）该办理步骤未经告知书记录", "(Warning) This step was recorded without an issued notice";
    NoticeAlreadyServed = "notice_already_served", "该告知书已经送达", "The notice has been served already";
    BeforeIssue = "before_issue", "送达日期早于告知书签发日期", "The date is before the notice was issued";
    AnnouncementPeriodRunning = "announcement_period_running", "公告送达的30日尚未届满", "The 30 days of service by announcement have not passed";
    ApprovalRequired = "approval_required", "此类告知书须经审批后签发", "This type of notice must be approved before it is issued";
    LetterheadIncomplete = "letterhead_incomplete", "（告知书检查）信笺缺少发文所需的项目", "(Notice check) The letterhead lacks what a letter needs";
    ApplicantMismatch = "applicant_mismatch", "（告知书检查）告知书未写明本案申请人", "(Notice check) The letter does not name the case's applicant";
    CaseNumberMismatch = "case_number_mismatch", "（告知书检查）告知书未写明本案申请编号", "(Notice check) The letter does not carry the case number";
    IdentityNumberInFull = "identity_number_in_full", "（告知书检查）告知书中出现完整的身份证件号码", "(Notice check) An identity number is printed in full";
    ArticleMissing = "article_missing", "（告知书检查）未引用该答复类型所依据的条款", "(Notice check) The article the disposition rests on is not cited";
    ReasonMissing = "reason_missing", "（告知书检查）未说明理由", "(Notice check) No reason is given";
    ProvisionMissing = "provision_missing", "（告知书检查）未说明提供信息的方式和时间或获取途径", "(Notice check) How and when the information is provided is not said";
    ResponsibleAgencyMissing = "responsible_agency_missing", "（告知书检查，警告）未告知负责该政府信息的机关及其联系方式", "(Notice check, warning) The responsible agency and its contact are not named";
    RemedyClauseMissing = "remedy_clause_missing", "（告知书检查）缺少救济途径告知", "(Notice check) The remedy clause is missing";
    ReviewBodyMissing = "review_body_missing", "（告知书检查）救济告知未写明信笺中的行政复议机关", "(Notice check) The remedy clause does not name the letterhead's review body";
    CourtMissing = "court_missing", "（告知书检查）救济告知未写明信笺中的管辖法院", "(Notice check) The remedy clause does not name the letterhead's court";
    RemedyPeriodMissing = "remedy_period_missing", "（告知书检查）救济告知未写明六十日或六个月的期限", "(Notice check) The remedy clause lacks the 60 days or the 6 months";
    DirectSuitOffered = "direct_suit_offered", "（告知书检查）对2024年1月1日以后不予公开的答复告知了直接起诉（应先复议）", "(Notice check) A refusal since 2024-01-01 offers a direct suit (review comes first)";
    ReplyAfterDueDate = "reply_after_due_date", "（告知书检查，警告）告知书日期晚于答复期限", "(Notice check, warning) The letter is dated after the due date";
    PeriodMissing = "period_missing", "（告知书检查）未写明法定期限（15个或20个工作日）", "(Notice check) The statutory period (15 or 20 working days) is not stated";
    ConsequenceMissing = "consequence_missing", "（告知书检查）未告知逾期的后果（视为放弃申请）", "(Notice check) The consequence of missing the period is not stated";

    // Yearly reports (年度报告).
    PeriodPublished = "period_published", "该年度报告已公布，须先由管理员重新开放", "The year's report is published; an admin must reopen it first";
    AlreadyPublished = "already_published", "报告已公布；须重新开放后再公布新版本", "The report is published; reopen it to publish a new version";
    NotPublished = "not_published", "只有已公布的报告才能重新开放", "Only a published report can be reopened";
    ChecksFailed = "checks_failed", "报告校验未通过，不能公布", "The report's checks fail; it cannot be published";
    NarrativeIncomplete = "narrative_incomplete", "报告正文不完整（有部分未填写、仍为待填写或不应只写“无”），不能公布", "A section of the narrative is empty, still a placeholder, or only \"无\" where content is needed; the report cannot be published";

    // Bulk import (批量导入).
    EmptyImport = "empty_import", "导入内容中没有申请", "The import holds no application";
    TooManyLines = "too_many_lines", "一次导入的申请过多", "Too many applications in one import";
    DuplicateInImport = "duplicate_in_import", "导入中有重复的外部编号", "The same external reference appears twice in the import";
    InvalidUtf8 = "invalid_utf8", "请求体须为 UTF-8 编码", "The body must be UTF-8";
    MissingColumn = "missing_column", "缺少必需的列", "A required column is missing";
    DuplicateColumn = "duplicate_column", "列重复出现", "The column appears twice";
    WrongFieldCount = "wrong_field_count", "该行字段数与表头不符", "The row's field count differs from the header's";
    StrayQuote = "stray_quote", "未加引号的字段中出现引号", "A quote inside an unquoted field";
    TextAfterQuote = "text_after_quote", "闭合引号之后还有文字", "Text after a closing quote";
    UnterminatedQuote = "unterminated_quote", "引号字段未闭合", "A quoted field is not closed";

    // Working-day calendar (工作日历).
    YearOutOfRange = "year_out_of_range", "年份超出支持范围", "The year is outside the supported range";
    DateOutsideNotice = "date_outside_notice", "日期不在该年度通知的适用范围内", "The date is outside the period the notice governs";
    RangeReversed = "range_reversed", "结束日期早于开始日期", "The range ends before it starts";
    RangeTooLong = "range_too_long", "假期区间过长", "The holiday range is too long";
    RangesUnordered = "ranges_unordered", "假期区间须按开始日期排序", "Holiday ranges must be sorted by start";
    RangesOverlap = "ranges_overlap", "假期区间重叠", "Holiday ranges overlap";
    NameRequired = "name_required", "假期名称必填", "The holiday name is required";
    NameTooLong = "name_too_long", "假期名称过长", "The holiday name is too long";
    WorkdayNotWeekend = "workday_not_weekend", "调休上班日须为周末", "A declared working day must be a weekend day";
    DuplicateWorkday = "duplicate_workday", "调休上班日重复", "The working day is listed twice";
    DateBothHolidayAndWorkday = "date_both_holiday_and_workday", "同一日期不能既是假日又是调休上班日", "A date cannot be both a holiday and a declared working day";
    NotHolder = "not_holder", "只有当前承办人（或其处室人员）、审批人或管理员可以交接", "Only the current holder (or its department), an approver or an admin may hand the application over";
    AlreadyHolder = "already_holder", "该申请已由此承办人办理", "The application is already held there";
    HolderCannotHold = "holder_cannot_hold", "接收方不能承办申请（用户停用、无承办角色或部门无在职承办人员）", "The target cannot hold an application (user disabled or without a handling role, or a department without such members)";
    NothingToClaim = "nothing_to_claim", "申请未交给任何处室，无需签收", "The application was not handed to a department";
    NotInHoldingDepartment = "not_in_holding_department", "只有承办处室的人员可以签收", "Only a member of the holding department may claim it";
    AlreadyClaimed = "already_claimed", "申请已被签收", "The application was already claimed";
    SameDepartment = "same_department", "目标处室即当前承办处室", "The target department is the holding department";
    NothingToReturn = "nothing_to_return", "没有交办人，无从退回", "Nobody handed the application over: there is no sender to return it to";
    NotInConsultedDepartment = "not_in_consulted_department", "只有被协办处室的人员（或审批人、管理员）可以答复", "Only a member of the consulted department (or an approver or admin) may answer";
    AlreadyAnswered = "already_answered", "该协办已答复", "The internal consultation was already answered";
    DepartmentNameTaken = "department_name_taken", "本机关已有同名部门", "The agency already has a department of that name";
    UnknownDepartment = "unknown_department", "不是本机关的部门", "Not a department of the agency";
    UnknownUser = "unknown_user", "不是本机关的用户", "Not a user of the agency";
    OneOfRequired = "one_of_required", "须给出且只给出其中一项", "Give exactly one of the fields";
    InvalidEmail = "invalid_email", "不是有效的电子邮件地址", "Not a valid e-mail address";
}

impl ErrorCode {
    /// The catalogue as the Markdown table of docs/API.md (kept in sync by a test).
    pub fn markdown_table() -> String {
        let mut out = String::from("| code | 含义 | meaning |\n| --- | --- | --- |\n");
        for c in Self::ALL {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                c.as_str(),
                c.meaning_zh(),
                c.meaning_en()
            ));
        }
        out
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The schema of `code`: an enum of the catalogue, each value's meaning in Chinese and English
/// in the description (a Markdown list, for people reading the document) and in
/// `x-enum-descriptions` (parallel to `enum`, for generators that show it beside each value).
impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> RefOr<Schema> {
        let mut description = String::from(
            "稳定的、供程序判断的问题代码（可依据代码分支处理，不要依据 `title` 或 `detail`）。以后的版本可能增加代码：未知代码按其 HTTP 状态处理。\n\nStable machine-readable problem code: branch on it, never on `title` or `detail`. Later versions may add codes: treat an unknown one by its HTTP status.\n",
        );
        for c in ErrorCode::ALL {
            description.push_str(&format!(
                "\n- `{}`: {} / {}",
                c.as_str(),
                c.meaning_zh(),
                c.meaning_en()
            ));
        }
        let meanings: Vec<String> = ErrorCode::ALL
            .iter()
            .map(|c| format!("{} / {}", c.meaning_zh(), c.meaning_en()))
            .collect();
        let mut schema = ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(description))
            .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
            .build();
        schema.extensions = Some(
            ExtensionsBuilder::new()
                .add("x-enum-descriptions", meanings)
                .build(),
        );
        RefOr::T(Schema::Object(schema))
    }
}

impl utoipa::ToSchema for ErrorCode {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_parses_back_and_serializes_as_itself() {
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(c.as_str()), Some(*c));
            assert_eq!(
                serde_json::to_value(c).ok(),
                Some(serde_json::Value::String(c.as_str().to_string()))
            );
            assert!(!c.meaning_zh().is_empty() && !c.meaning_en().is_empty());
        }
        assert_eq!(ErrorCode::parse("no_such_code"), None);
    }

    #[test]
    fn codes_are_unique_snake_case() {
        let mut seen = std::collections::BTreeSet::new();
        for c in ErrorCode::ALL {
            let s = c.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(
                s.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_'),
                "{s} is not snake_case"
            );
        }
    }
}
