import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { ZodError } from 'zod';
import { translateDbError } from '../db/translate-error.ts';
import { AppError, describeProblems, errorCatalogue, fieldLabel, type ErrorCode, type FieldError } from '../errors.ts';

export function problemType(code: ErrorCode): string {
  return `/docs#error-${code}`;
}

export function sendProblem(res: Response, error: AppError): void {
  for (const [name, value] of Object.entries(error.headers ?? {})) res.setHeader(name, value);
  res
    .status(error.status)
    .type('application/problem+json')
    .send(
      JSON.stringify({
        type: problemType(error.code),
        title: errorCatalogue[error.code].title,
        status: error.status,
        code: error.code,
        detail: error.message,
        ...(error.errors ? { errors: error.errors } : {}),
      }),
    );
}

export function fromZod(e: ZodError, where: 'body' | 'query' | 'params'): AppError {
  const errors: FieldError[] = e.issues.map((issue) => ({
    field: issue.path.length ? issue.path.join('.') : where,
    message: issue.code === 'unrecognized_keys' ? `不接受的字段：${issue.keys.map((k) => fieldLabel(k) || k).join('、')}` : issue.message,
  }));
  const detail = describeProblems(errors);
  return new AppError('VALIDATION_FAILED', detail, errors);
}

/** Errors raised by body-parser carry a `type`; map them to the catalogue (the pages' error handler too). */
export function fromBodyParser(e: { type?: string; status?: number }): AppError | undefined {
  switch (e.type) {
    case 'entity.too.large':
      return new AppError('PAYLOAD_TOO_LARGE', '请求内容超过允许的大小');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new AppError('UNSUPPORTED_MEDIA_TYPE', '不支持的内容编码或字符集');
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new AppError('MALFORMED_REQUEST', '无法读取请求内容');
    default:
      // A path parameter that is not valid percent-encoding (Express's decode raises a URIError with
      // status 400), or any other client error raised with an http-errors status: the request's fault.
      if (e instanceof URIError) return new AppError('MALFORMED_REQUEST', '请求地址中含有无效的百分号编码');
      if (typeof e.status === 'number' && e.status >= 400 && e.status < 500 && (e as { expose?: boolean }).expose)
        return new AppError('MALFORMED_REQUEST', '无法读取请求内容');
      return undefined;
  }
}

export const notFound: RequestHandler = () => {
  throw new AppError('NOT_FOUND', '没有这个资源');
};

export function errorHandler(log: { error(obj: object, msg: string): void }): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const translated = translateDbError(err);
    if (res.headersSent) {
      // A streamed download failed half-way: the handler cut it; all that is left is to say so in the log.
      log.error({ err: translated, requestId: req.id }, 'error after the response had started');
      return;
    }
    const known =
      translated instanceof AppError
        ? translated
        : translated instanceof ZodError
          ? fromZod(translated, 'body')
          : fromBodyParser(translated as { type?: string });
    if (known) return sendProblem(res, known);
    log.error({ err: translated, requestId: req.id }, 'unexpected error');
    sendProblem(res, new AppError('INTERNAL', `系统错误，请提供请求编号 ${String(req.id)}`));
  };
}
