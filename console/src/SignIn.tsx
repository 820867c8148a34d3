import Alert from '@cloudscape-design/components/alert';
import Box from '@cloudscape-design/components/box';
import Button from '@cloudscape-design/components/button';
import Container from '@cloudscape-design/components/container';
import Form from '@cloudscape-design/components/form';
import FormField from '@cloudscape-design/components/form-field';
import Header from '@cloudscape-design/components/header';
import Input from '@cloudscape-design/components/input';
import SpaceBetween from '@cloudscape-design/components/space-between';
import { useState } from 'react';
import { type ConsoleConfig, type Me, signInLocal, startCognitoSignIn } from './auth.js';

export function SignIn(props: { config: ConsoleConfig; onSignedIn: (me: Me) => void; expired: () => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const { config } = props;

  return (
    <main style={{ maxWidth: 460, margin: '80px auto' }}>
      <Container header={<Header variant="h1">Sign in to the CDP console</Header>}>
        {config.auth === 'cognito' ? (
          <SpaceBetween size="m">
            <Box>Sign in with your organisation's account (Amazon Cognito).</Box>
            <Button variant="primary" onClick={() => void startCognitoSignIn(config)}>
              Sign in
            </Button>
          </SpaceBetween>
        ) : (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              setBusy(true);
              setError(undefined);
              signInLocal(username, password)
                .then(props.onSignedIn)
                .catch((err: Error) => setError(err.message))
                .finally(() => setBusy(false));
            }}
          >
            <Form
              actions={
                <Button variant="primary" formAction="submit" loading={busy}>
                  Sign in
                </Button>
              }
            >
              <SpaceBetween size="m">
                {error && <Alert type="error">{error}</Alert>}
                <FormField label="Username">
                  <Input
                    value={username}
                    onChange={(e) => setUsername(e.detail.value)}
                    autoComplete="username"
                    name="username"
                    autoFocus
                  />
                </FormField>
                <FormField label="Password">
                  <Input
                    value={password}
                    type="password"
                    onChange={(e) => setPassword(e.detail.value)}
                    autoComplete="current-password"
                    name="password"
                  />
                </FormField>
                <Box variant="small">
                  The local CDP prints the first admin's sign-in when it starts; add users with
                  <code> npm run cdp -- users add</code>.
                </Box>
              </SpaceBetween>
            </Form>
          </form>
        )}
      </Container>
    </main>
  );
}
