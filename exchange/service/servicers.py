"""The servicers of signalhub.v1.Exchange and signalhub.v1.Admin, thin as in grpc's
route_guide example: each RPC method authenticates the call (or hands it to a function that
does, off the event loop) and calls the plain function of its RPC family that means it.
exchange.server routes each method of the services to the servicer method of its name."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import admin_pb2, exchange_pb2

from ..report_worker import ReportWorkers
from . import (
    admin,
    feed,
    matching,
    quarantine,
    reports,
    reviews,
    signals,
    submissions,
    warnings,
)
from .context import Hub, RawRequest
from .snapshots import SnapshotStreams

Metadata = Mapping[str, str | bytes]
EXCHANGE = "/signalhub.v1.Exchange/"
ADMIN = "/signalhub.v1.Admin/"


class ExchangeService:
    """signalhub.v1.Exchange: what members call."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.tail = feed.FeedTail(hub)
        self.snapshots = SnapshotStreams(hub)
        self._reports = ReportWorkers(hub.store.path)

    def start_tail(self) -> None:
        """Starts reading each commit's feed records for the followers (feed.FeedTail)."""
        self.tail.start()

    def stop_tail(self) -> None:
        """Stops the report workers and the feed tail."""
        self._reports.close()
        self.tail.stop()

    def committed(self) -> None:
        """Called by the writer thread after a commit (exchange.index.CommitHook)."""
        self.tail.committed()

    async def SubmitSignals(
        self, request: RawRequest[exchange_pb2.SubmitSignalsRequest], metadata: Metadata
    ) -> exchange_pb2.SubmitSignalsResponse:
        """Stores a member's signed batch of signals (submissions.submit_signals)."""
        return await submissions.submit_signals(self.hub, request, metadata)

    async def MatchHashes(
        self, request: RawRequest[exchange_pb2.MatchHashesRequest], metadata: Metadata
    ) -> exchange_pb2.MatchHashesResponse:
        """The stored signals each query matches, as the caller may see them (matching)."""
        caller, message = self.hub.authenticate(EXCHANGE + "MatchHashes", request, metadata)
        return await matching.match_hashes(self.hub, caller, message)

    async def FetchUpdates(
        self, request: RawRequest[exchange_pb2.FetchUpdatesRequest], metadata: Metadata
    ) -> AsyncIterator[exchange_pb2.FetchUpdatesResponse | bytes]:
        """The caller's feed after its cursor, and with `follow` its new events (feed)."""
        caller, message = self.hub.authenticate(EXCHANGE + "FetchUpdates", request, metadata)
        async for page in feed.fetch_updates(self.hub, self.tail, caller, message):
            yield page

    async def GetSignal(
        self, request: RawRequest[exchange_pb2.GetSignalRequest], metadata: Metadata
    ) -> exchange_pb2.GetSignalResponse:
        """One signal and a page of its submissions, as the caller may see them (signals)."""
        caller, message = self.hub.authenticate(EXCHANGE + "GetSignal", request, metadata)
        return signals.get_signal(self.hub, caller, message)

    async def SetOpinion(
        self, request: RawRequest[exchange_pb2.SetOpinionRequest], metadata: Metadata
    ) -> exchange_pb2.SetOpinionResponse:
        """Records a member's signed opinion of a signal (submissions.run_signed)."""
        return await submissions.run_signed(self.hub, submissions.OPINION, request, metadata)

    async def RetractSubmission(
        self, request: RawRequest[exchange_pb2.RetractSubmissionRequest], metadata: Metadata
    ) -> exchange_pb2.RetractSubmissionResponse:
        """Withdraws a member's signed submissions (submissions.retract_submission)."""
        return await submissions.retract_submission(self.hub, request, metadata)

    async def GetMemberReport(
        self, request: RawRequest[exchange_pb2.GetMemberReportRequest], metadata: Metadata
    ) -> exchange_pb2.GetMemberReportResponse:
        """The caller's report over a period (reports.member_report)."""
        caller, message = self.hub.authenticate(EXCHANGE + "GetMemberReport", request, metadata)
        return await reports.member_report(self.hub, self._reports, caller, message)

    async def GetAuditHead(
        self, request: RawRequest[exchange_pb2.GetAuditHeadRequest], metadata: Metadata
    ) -> exchange_pb2.GetAuditHeadResponse:
        """The newest audit head the hub signed."""
        self.hub.authenticate(EXCHANGE + "GetAuditHead", request, metadata)
        with self.hub.store.read() as view:
            head = view.latest_audit_head()
        return exchange_pb2.GetAuditHeadResponse(head=head)

    async def GetSnapshot(
        self, request: RawRequest[exchange_pb2.GetSnapshotRequest], metadata: Metadata
    ) -> AsyncIterator[bytes]:
        """A header, the chunks and a signed trailer (exchange.snapshot). The snapshot is built
        whole in a worker thread first; only then is anything sent, hashed as it goes."""
        caller, message = self.hub.authenticate(EXCHANGE + "GetSnapshot", request, metadata)
        async for part in self.snapshots.get_snapshot(caller, message):
            yield part

    async def ListSignalTypes(
        self, request: RawRequest[exchange_pb2.ListSignalTypesRequest], metadata: Metadata
    ) -> exchange_pb2.ListSignalTypesResponse:
        """The signal types this hub knows (signals.signal_types_response)."""
        self.hub.authenticate(EXCHANGE + "ListSignalTypes", request, metadata)
        return signals.signal_types_response()

    async def GetWarningLists(
        self, request: RawRequest[exchange_pb2.GetWarningListsRequest], metadata: Metadata
    ) -> exchange_pb2.GetWarningListsResponse:
        """The coalition's warning lists, signed (warnings.get_warning_lists)."""
        _caller, message = self.hub.authenticate(EXCHANGE + "GetWarningLists", request, metadata)
        return warnings.get_warning_lists(self.hub, message)

    async def ProposeWarningEntries(
        self, request: RawRequest[exchange_pb2.ProposeWarningEntriesRequest], metadata: Metadata
    ) -> exchange_pb2.ProposeWarningEntriesResponse:
        """Proposes, endorses or withdraws warning-list entries (signed)."""
        proposal = submissions.WARNING_PROPOSAL
        response = await submissions.run_signed(self.hub, proposal, request, metadata)
        warnings.refresh_metrics(self.hub)
        return response

    async def ListWarningProposals(
        self, request: RawRequest[exchange_pb2.ListWarningProposalsRequest], metadata: Metadata
    ) -> exchange_pb2.ListWarningProposalsResponse:
        """The caller's own warning-list proposals and their state."""
        caller, message = self.hub.authenticate(
            EXCHANGE + "ListWarningProposals", request, metadata
        )
        with self.hub.store.read() as view:
            return warnings.list_warning_proposals(view, caller, message)

    async def RecordAppeal(
        self, request: RawRequest[exchange_pb2.RecordAppealRequest], metadata: Metadata
    ) -> exchange_pb2.RecordAppealResponse:
        """Records a member's signed appeal outcome (submissions.run_signed)."""
        return await submissions.run_signed(self.hub, submissions.APPEAL, request, metadata)

    async def ListReviews(
        self, request: RawRequest[exchange_pb2.ListReviewsRequest], metadata: Metadata
    ) -> exchange_pb2.ListReviewsResponse:
        """The caller's review notices, newest first."""
        caller, message = self.hub.authenticate(EXCHANGE + "ListReviews", request, metadata)
        with self.hub.store.read() as view:
            return reviews.list_reviews(self.hub, view, caller, message)

    async def MarkReviewed(
        self, request: RawRequest[exchange_pb2.MarkReviewedRequest], metadata: Metadata
    ) -> exchange_pb2.MarkReviewedResponse:
        """Marks the caller's review notices done (submissions.run_signed)."""
        return await submissions.run_signed(self.hub, submissions.REVIEW_DONE, request, metadata)


class AdminService:
    """signalhub.v1.Admin: operator calls only."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def AddMember(
        self, request: RawRequest[admin_pb2.AddMemberRequest], metadata: Metadata
    ) -> admin_pb2.AddMemberResponse:
        """Adds a member with its first key."""
        m = admin.operator_request(self.hub, ADMIN + "AddMember", request, metadata)
        entry = self.hub.log_entry(add_member=admin.add_member_command(m))
        return await admin.execute(self.hub, entry, admin_pb2.AddMemberResponse)

    async def ListMembers(
        self, request: RawRequest[admin_pb2.ListMembersRequest], metadata: Metadata
    ) -> admin_pb2.ListMembersResponse:
        """A page of members."""
        m = admin.operator_request(self.hub, ADMIN + "ListMembers", request, metadata)
        with self.hub.store.read() as view:
            return admin.list_members(view, m)

    async def AddKey(
        self, request: RawRequest[admin_pb2.AddKeyRequest], metadata: Metadata
    ) -> admin_pb2.AddKeyResponse:
        """Adds a key to a member."""
        m = admin.operator_request(self.hub, ADMIN + "AddKey", request, metadata)
        command = rec.AddKeyCommand(member_id=m.member_id, public_key=m.public_key)
        entry = self.hub.log_entry(add_key=command)
        return await admin.execute(self.hub, entry, admin_pb2.AddKeyResponse)

    async def RevokeKey(
        self, request: RawRequest[admin_pb2.RevokeKeyRequest], metadata: Metadata
    ) -> admin_pb2.RevokeKeyResponse:
        """Revokes a member's key (and, when compromised, what it signed since)."""
        m = admin.operator_request(self.hub, ADMIN + "RevokeKey", request, metadata)
        entry = self.hub.log_entry(revoke_key=admin.revoke_key_command(m))
        return await admin.execute(self.hub, entry, admin_pb2.RevokeKeyResponse)

    async def RemoveMember(
        self, request: RawRequest[admin_pb2.RemoveMemberRequest], metadata: Metadata
    ) -> admin_pb2.RemoveMemberResponse:
        """Offboards a member, keeping, retracting or erasing its submissions."""
        m = admin.operator_request(self.hub, ADMIN + "RemoveMember", request, metadata)
        entry = self.hub.log_entry(remove_member=await admin.remove_member_command(self.hub, m))
        return await admin.execute(self.hub, entry, admin_pb2.RemoveMemberResponse)

    async def EraseSignal(
        self, request: RawRequest[admin_pb2.EraseSignalRequest], metadata: Metadata
    ) -> admin_pb2.EraseSignalResponse:
        """Erases a signal and every trace of its value (admin.erase_signal)."""
        m = admin.operator_request(self.hub, ADMIN + "EraseSignal", request, metadata)
        return await admin.erase_signal(self.hub, m)

    async def SetMemberSuspended(
        self, request: RawRequest[admin_pb2.SetMemberSuspendedRequest], metadata: Metadata
    ) -> admin_pb2.SetMemberSuspendedResponse:
        """Suspends a member (its calls refused) or lifts the suspension."""
        m = admin.operator_request(self.hub, ADMIN + "SetMemberSuspended", request, metadata)
        command = rec.SetMemberSuspendedCommand(member_id=m.member_id, suspended=m.suspended)
        entry = self.hub.log_entry(set_member_suspended=command)
        return await admin.execute(self.hub, entry, admin_pb2.SetMemberSuspendedResponse)

    async def ListKeys(
        self, request: RawRequest[admin_pb2.ListKeysRequest], metadata: Metadata
    ) -> admin_pb2.ListKeysResponse:
        """A member's keys."""
        m = admin.operator_request(self.hub, ADMIN + "ListKeys", request, metadata)
        with self.hub.store.read() as view:
            return admin.list_keys(view, m)

    async def AddGroupMembers(
        self, request: RawRequest[admin_pb2.AddGroupMembersRequest], metadata: Metadata
    ) -> admin_pb2.AddGroupMembersResponse:
        """Adds members to a privacy group (created with its first members)."""
        m = admin.operator_request(self.hub, ADMIN + "AddGroupMembers", request, metadata)
        command = rec.GroupMembersCommand(group_id=m.group_id, member_ids=m.member_ids)
        entry = self.hub.log_entry(add_group_members=command)
        return await admin.execute(self.hub, entry, admin_pb2.AddGroupMembersResponse)

    async def RemoveGroupMembers(
        self, request: RawRequest[admin_pb2.RemoveGroupMembersRequest], metadata: Metadata
    ) -> admin_pb2.RemoveGroupMembersResponse:
        """Removes members from a privacy group."""
        m = admin.operator_request(self.hub, ADMIN + "RemoveGroupMembers", request, metadata)
        command = rec.GroupMembersCommand(group_id=m.group_id, member_ids=m.member_ids)
        entry = self.hub.log_entry(remove_group_members=command)
        return await admin.execute(self.hub, entry, admin_pb2.RemoveGroupMembersResponse)

    async def ListGroups(
        self, request: RawRequest[admin_pb2.ListGroupsRequest], metadata: Metadata
    ) -> admin_pb2.ListGroupsResponse:
        """Every privacy group and its members."""
        admin.operator_request(self.hub, ADMIN + "ListGroups", request, metadata)
        with self.hub.store.read() as view:
            return admin_pb2.ListGroupsResponse(groups=view.groups())

    async def SetMemberContact(
        self, request: RawRequest[admin_pb2.SetMemberContactRequest], metadata: Metadata
    ) -> admin_pb2.SetMemberContactResponse:
        """Sets a member's contact details."""
        m = admin.operator_request(self.hub, ADMIN + "SetMemberContact", request, metadata)
        command = rec.SetMemberContactCommand(member_id=m.member_id, contact=m.contact)
        entry = self.hub.log_entry(set_member_contact=command)
        return await admin.execute(self.hub, entry, admin_pb2.SetMemberContactResponse)

    async def SetWarningList(
        self, request: RawRequest[admin_pb2.SetWarningListRequest], metadata: Metadata
    ) -> admin_pb2.SetWarningListResponse:
        """Creates a warning list or changes its settings."""
        m = admin.operator_request(self.hub, ADMIN + "SetWarningList", request, metadata)
        entry = self.hub.log_entry(set_warning_list=warnings.set_warning_list_command(m))
        response = await admin.execute(self.hub, entry, admin_pb2.SetWarningListResponse)
        warnings.refresh_metrics(self.hub)
        return response

    async def EditWarningEntries(
        self, request: RawRequest[admin_pb2.EditWarningEntriesRequest], metadata: Metadata
    ) -> admin_pb2.EditWarningEntriesResponse:
        """Approves, rejects or removes warning-list entries."""
        m = admin.operator_request(self.hub, ADMIN + "EditWarningEntries", request, metadata)
        entry = self.hub.log_entry(edit_warning_entries=warnings.edit_warning_entries_command(m))
        response = await admin.execute(self.hub, entry, admin_pb2.EditWarningEntriesResponse)
        warnings.refresh_metrics(self.hub)
        return response

    async def ListAllWarningProposals(
        self, request: RawRequest[admin_pb2.ListAllWarningProposalsRequest], metadata: Metadata
    ) -> admin_pb2.ListAllWarningProposalsResponse:
        """Every member's warning-list proposals, with who proposed each."""
        m = admin.operator_request(self.hub, ADMIN + "ListAllWarningProposals", request, metadata)
        with self.hub.store.read() as view:
            return warnings.list_all_warning_proposals(view, m)

    async def ListQuarantined(
        self, request: RawRequest[admin_pb2.ListQuarantinedRequest], metadata: Metadata
    ) -> admin_pb2.ListQuarantinedResponse:
        """The signals in flood quarantine."""
        admin.operator_request(self.hub, ADMIN + "ListQuarantined", request, metadata)
        with self.hub.store.read() as view:
            return quarantine.list_quarantined(view)

    async def ResolveQuarantine(
        self, request: RawRequest[admin_pb2.ResolveQuarantineRequest], metadata: Metadata
    ) -> admin_pb2.ResolveQuarantineResponse:
        """Releases or retracts a quarantined signal."""
        m = admin.operator_request(self.hub, ADMIN + "ResolveQuarantine", request, metadata)
        command = rec.ResolveQuarantineCommand(signal_id=m.signal_id, action=m.action, note=m.note)
        entry = self.hub.log_entry(resolve_quarantine=command)
        response = await admin.execute(self.hub, entry, admin_pb2.ResolveQuarantineResponse)
        quarantine.refresh_metrics(self.hub)
        return response

    async def GetMemberUsage(
        self, request: RawRequest[admin_pb2.GetMemberUsageRequest], metadata: Metadata
    ) -> admin_pb2.GetMemberUsageResponse:
        """Each member's (or one member's) usage over a period (reports.member_usage)."""
        m = admin.operator_request(self.hub, ADMIN + "GetMemberUsage", request, metadata)
        first, last = reports.usage_period(m)

        def build() -> admin_pb2.GetMemberUsageResponse:
            with self.hub.store.read() as view:
                response = reports.member_usage(view, m.member_id, first, last)
            for row in response.usage:  # this node's extraction limits (exchange.extraction)
                now = self.hub.extraction.of(row.member_id)
                row.queries_today = now.queries_today
                row.match_budget_per_day = now.match_budget_per_day
                row.sweeping = now.sweeping
                row.misses_last_hour = now.misses_last_hour
            return response

        return await asyncio.get_running_loop().run_in_executor(None, build)

    async def SignAuditHead(
        self, request: RawRequest[admin_pb2.SignAuditHeadRequest], metadata: Metadata
    ) -> admin_pb2.SignAuditHeadResponse:
        """Signs the audit log's head now (Hub.sign_audit_head)."""
        admin.operator_request(self.hub, ADMIN + "SignAuditHead", request, metadata)
        return admin_pb2.SignAuditHeadResponse(head=await self.hub.sign_audit_head())
