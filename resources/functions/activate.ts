import type { FunctionDefinition, RouteDefinition } from './types.js';

export const ACTIVATION_FUNCTION: FunctionDefinition = {
  id: 'Activation',
  entry: 'lambdas/activate/handler.ts',
  memoryMb: 512,
  timeoutSeconds: 120,
};

export const DESTINATION_API_FUNCTION: FunctionDefinition = {
  id: 'DestinationApi',
  entry: 'lambdas/activate/api.ts',
  memoryMb: 256,
  timeoutSeconds: 10,
};

export const ACTIVATE_ROUTES: readonly RouteDefinition[] = [
  ...(['POST', 'GET'] as const).map((method) => ({
    method,
    path: '/v1/segments/{id}/destinations',
    functionId: DESTINATION_API_FUNCTION.id,
    auth: 'admin' as const,
  })),
  ...(['PUT', 'DELETE'] as const).map((method) => ({
    method,
    path: '/v1/segments/{id}/destinations/{destinationId}',
    functionId: DESTINATION_API_FUNCTION.id,
    auth: 'admin' as const,
  })),
  {
    method: 'POST',
    path: '/v1/segments/{id}/destinations/{destinationId}/sync',
    functionId: DESTINATION_API_FUNCTION.id,
    auth: 'admin',
  },
];
