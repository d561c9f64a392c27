import HTTPTypes
import Hummingbird
import Logging
import SluiceCore

/// Makes every error leave the server as a `SluiceError` JSON response.
///
/// `SluiceError`s pass through (5xx ones are logged with the request id). Hummingbird's own `HTTPError`s (unknown
/// route 404, unsupported method, too large a JSON body, ...) become the matching `SluiceError`. Any other error is a
/// bug: it is logged with the request id and answered with a 500 whose message carries only that id.
public struct SluiceErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    /// Runs the rest of the chain and converts what it throws.
    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as SluiceError {
            if error.status.code >= 500 {
                context.logger.error(
                    "Request failed",
                    metadata: [
                        "error": "\(error)", "location": "\(error.location)",
                        "path": "\(Self.redacted(request.uri.path))",
                        "request.id": "\(context.id)",
                    ])
            }
            throw error
        } catch let error as HTTPError {
            throw Self.translate(error)
        } catch let error as any HTTPResponseError where error.status.code < 500 {
            throw error
        } catch {
            context.logger.error(
                "Unexpected error",
                metadata: [
                    "error": "\(String(reflecting: error))", "path": "\(Self.redacted(request.uri.path))",
                    "request.id": "\(context.id)",
                ])
            throw SluiceError(
                .internalError,
                "An internal error occurred. The server log has the details under request id \(context.id).",
                cause: error)
        }
    }

    /// The path with conda tokens (`/t/<token>/`) masked, so that logs never hold credentials.
    static func redacted(_ path: String) -> String {
        var segments = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        for index in segments.indices.dropLast() where segments[index] == "t" {
            segments[index + 1] = "***"
        }
        return segments.joined(separator: "/")
    }

    /// The `SluiceError` for one of Hummingbird's `HTTPError`s.
    static func translate(_ error: HTTPError) -> SluiceError {
        let message = error.body ?? error.status.reasonPhrase
        switch error.status {
        case .notFound: return SluiceError(.notFound, error.body ?? "Not found.", cause: error)
        case .unauthorized: return SluiceError(.unauthenticated, message, cause: error)
        case .forbidden: return SluiceError(.forbidden, message, cause: error)
        case .contentTooLarge: return SluiceError(.payloadTooLarge, message, cause: error)
        case .rangeNotSatisfiable: return SluiceError(.rangeNotSatisfiable, message, cause: error)
        case .conflict: return SluiceError(.conflict, message, cause: error)
        case .methodNotAllowed: return SluiceError(.invalidInput, "Method not allowed.", cause: error)
        default:
            if error.status.kind == .clientError { return SluiceError(.invalidInput, message, cause: error) }
            return SluiceError(.internalError, message, cause: error)
        }
    }
}
