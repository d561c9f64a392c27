import Foundation
import Hummingbird
import SluiceCore

/// The security event log, `GET /api/events`: failed sign-ins, keys created or deleted, users, groups and privileges
/// changed, with who, when and from where. It never holds a password or a key. Requires `administer`.
struct EventLogController: Sendable {
    let services: SluiceServices

    /// The default and the largest page size.
    static let defaultLimit = 100
    static let maximumLimit = 1000

    func addRoutes(to group: RouterGroup<SluiceRequestContext>) {
        group.get(use: list)
        group.get("list", use: list)
    }

    /// `GET /api/events?limit=100&before=<id>&kind=<kind>` → `[{"id","kind","actor","subject","detail",
    /// "remoteAddress","at"}]`, newest first: at most `limit` (1 to 1000, default 100) events, only those with an id
    /// below `before` (to page back) and of `kind` when given.
    /// Throws `.invalidInput` (400) for a `limit` or `before` that is not a number in range, `.unauthenticated` (401)
    /// / `.forbidden` (403) without `administer`.
    @Sendable func list(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await services.access.require(.administer, feed: nil, identity: context.identity)
        let query = request.uri.queryParameters
        var limit = Self.defaultLimit
        if let text = query["limit"].map(String.init) {
            guard let number = Int(text), (1...Self.maximumLimit).contains(number) else {
                throw SluiceError.invalidInput(
                    "'limit' must be a whole number from 1 to \(Self.maximumLimit) (got '\(text)').")
            }
            limit = number
        }
        var before: Int64?
        if let text = query["before"].map(String.init) {
            guard let number = Int64(text), number > 0 else {
                throw SluiceError.invalidInput("'before' must be an event id (a positive whole number; got '\(text)').")
            }
            before = number
        }
        let kind = query["kind"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        let events = try await services.security.events(limit: limit, beforeID: before, kind: kind)
        return JSONResponse.make(.array(events.map(\.apiJSON)))
    }
}

extension SecurityEvent {
    /// The event as `/api/events` returns it: `{"id","kind","actor","subject","detail","remoteAddress","at"}`.
    var apiJSON: JSONValue {
        .object([
            "id": .int(id),
            "kind": .string(kind),
            "actor": actor.map(JSONValue.string) ?? .null,
            "subject": subject.map(JSONValue.string) ?? .null,
            "detail": .string(detail),
            "remoteAddress": remoteAddress.map(JSONValue.string) ?? .null,
            "at": JSONResponse.timestamp(at),
        ])
    }
}
