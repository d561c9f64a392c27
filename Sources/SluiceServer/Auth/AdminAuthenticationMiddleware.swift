import Hummingbird
import SluiceCore

/// Requires `Admin` HTTP Basic credentials on every route it wraps (the management and package APIs) and records
/// the user in ``SluiceRequestContext/userName``.
///
/// Throws `SluiceError.unauthenticated` (401 with `WWW-Authenticate: Basic realm="Sluice"`) when the credentials
/// are missing or wrong, `.forbidden` (403) for a user other than `Admin`. Credentials are never logged.
public struct AdminAuthenticationMiddleware: RouterMiddleware {
    public typealias Context = SluiceRequestContext

    let authenticator: AdminAuthenticator

    public init(authenticator: AdminAuthenticator) {
        self.authenticator = authenticator
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        context.userName = try await authenticator.authenticateAdmin(authorization: request.headers[.authorization])
        return try await next(request, context)
    }
}
